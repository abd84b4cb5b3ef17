#include "cli/remote_command.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "base/result.h"
#include "cli/count_flag.h"
#include "cli/remote_answers.h"
#include "cli/remote_ingest.h"
#include "dynlib/lazy_library.h"
#include "http_client/http_client.h"
#include "json/json_writer.h"

namespace handoff {

struct RemoteCommand {
  CLI::App* remote = nullptr;
  CLI::App* ingest = nullptr;
  CLI::App* suites = nullptr;
  RemoteIngest ingest_options;
  CLI::App* trigger = nullptr;
  CLI::App* runs = nullptr;
  CLI::App* get = nullptr;
  CLI::App* health = nullptr;
  CLI::App* history = nullptr;
  CLI::App* search = nullptr;
  CLI::App* hunt = nullptr;       // start a hunt
  CLI::App* hunts = nullptr;      // list hunts, or show one
  CLI::App* stop_hunt = nullptr;  // stop or cancel one
  CLI::App* release = nullptr;
  bool ready = false;  // health: /readyz instead of /healthz
  std::string server;
  std::string token;
  std::string token_file;
  // TLS: the CA to trust (default: the system's), and a client certificate for mTLS.
  std::string cacert, cert, key;
  std::string format = "text";
  // trigger
  std::string suite, filter, reference, initiated_by, timeout;
  std::vector<std::string> labels, params;
  int attempts = 0;
  bool wait = false;
  bool hold_on_failure = false;
  // runs
  std::string runs_suite, runs_status, runs_reference;
  int limit = 20;
  // get, release
  std::int64_t id = 0;
  // history (suite and limit above), search
  std::string test, failure;
  // hunt (suite, filter, reference... above), hunts, stop-hunt
  int repeat = 0;
  bool until_failure = false, cancel = false;  // and hold_on_failure above
  std::string max_duration;
};

int FailRemote(const std::string& message) {
  std::fprintf(stderr, "handoff remote: %s\n", message.c_str());
  return kExitUsage;
}

std::string ServerErrorMessage(const http::ClientResult& r) {
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    if (const boost::json::value* e = v.as_object().if_contains("error"); e && e->is_object()) {
      const boost::json::value* m = e->as_object().if_contains("message");
      return fmt::format("{} ({})", m != nullptr && m->is_string() ? m->as_string().c_str() : "",
                         r.status);
    }
  }
  return fmt::format("HTTP {}: {}", r.status, r.body);
}

std::string PercentEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

namespace {

namespace json = boost::json;

constexpr int kExitFailed = 1;
constexpr const char* kServerHelp =
    "The server: http://HOST:PORT, https://HOST:PORT, or HOST:PORT (http)";


std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->as_string());
}

std::int64_t Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  return 0;
}

bool Bool(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->as_bool();
}


// Appends "k":"v" pairs from "k=v" arguments; returns an error for a malformed one.
std::string AppendPairs(std::string& body, const char* field, const std::vector<std::string>& pairs) {
  if (pairs.empty()) return {};
  body += fmt::format(",\"{}\":{{", field);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const std::size_t eq = pairs[i].find('=');
    if (eq == std::string::npos || eq == 0) {
      if (field == std::string("labels")) {
        return fmt::format("--label: want KEY=VALUE, got \"{}\"", pairs[i]);
      }
      // Not echoed: a param may be a secret, and this message may end up in a CI log.
      return fmt::format("--param: want KEY=VALUE in --param number {} (not repeated here: "
                         "a param may be a secret)",
                         i + 1);
    }
    if (i > 0) body += ',';
    AppendJsonString(body, pairs[i].substr(0, eq));
    body += ':';
    AppendJsonString(body, pairs[i].substr(eq + 1));
  }
  body += '}';
  return {};
}

// The word a test's state is shown with, as `run`'s text report says it: a soft failure
// is not a FAIL (it does not fail the run), a pass after a failed attempt is FLAKY, and a
// test a cancel stopped or never started is CANCELLED, not skipped.
std::string Word(const json::object& test) {
  const std::string status = Str(test, "status");
  if (status == "failed") return Bool(test, "soft_failure") ? "SOFT FAIL" : "FAIL";
  if (status == "passed") return Bool(test, "flaky") ? "FLAKY" : "PASS";
  if (status == "cancelled") return "CANCELLED";
  if (status == "skipped") {
    // Until the API has a "cancelled" status, the tests a cancel never ran are skipped
    // with this reason (serve_engine.cc).
    return Str(test, "message").starts_with("not run:") ? "CANCELLED" : "SKIP";
  }
  if (status == "running") return "RUN";
  if (status == "pending") return "PENDING";
  return status;
}

// How a test compares with the previous run, as the API decided it: " [new failure]",
// " [failing since run #12 (v1.2)]", " [fixed]", " [new test]", or "".
std::string ChangeNote(const json::object& test) {
  const std::string change = Str(test, "change");
  if (change.empty()) return {};
  std::string since;
  if (const json::value* f = test.if_contains("failing_since"); f != nullptr && f->is_object()) {
    since = fmt::format("run #{}", Int(f->as_object(), "run_id"));
    const std::string reference = Str(f->as_object(), "reference");
    if (!reference.empty()) since += fmt::format(" ({})", reference);
  }
  if (change == "new_failure") return " [new failure]";
  if (change == "still_failing") return since.empty() ? " [still failing]" : " [failing since " + since + "]";
  if (change == "fixed") return since.empty() ? " [fixed]" : " [fixed: failing since " + since + "]";
  if (change == "new_test") return " [new test]";
  return " [" + change + "]";
}

// Returns true for a test state that is final.
bool IsFinishedTest(const std::string& status) {
  return status == "passed" || status == "failed" || status == "skipped" || status == "cancelled";
}

// The number of levels above a test: 0 for "Test", 1 for "Test/Sub".
int Depth(const std::string& name) {
  return static_cast<int>(std::count(name.begin(), name.end(), '/'));
}

// Returns the run's tests with each subtest right after its parent (the API lists them in
// the order they were first seen, so subtests follow every test declared before them).
std::vector<const json::object*> Nested(const json::array& tests) {
  std::map<std::string, std::size_t> rank;  // top-level name -> its place
  std::vector<std::pair<std::size_t, const json::object*>> keyed;
  for (const json::value& t : tests) {
    if (!t.is_object()) continue;
    const std::string name = Str(t.as_object(), "name");
    const std::string top = name.substr(0, name.find('/'));
    const std::size_t place = rank.emplace(top, rank.size()).first->second;
    keyed.emplace_back(place, &t.as_object());
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<const json::object*> out;
  for (const auto& [place, test] : keyed) out.push_back(test);
  return out;
}

// Prints the tests of a finished run that changed since the previous run, one line per kind:
// "new failures: A, B", "still failing: C [since run #12 (v1)]", "fixed: D", "new tests: E".
void PrintChanges(const json::object& run) {
  const json::value* tests = run.if_contains("tests");
  if (tests == nullptr || !tests->is_array()) return;
  static constexpr std::pair<const char*, const char*> kKinds[] = {
      {"new_failure", "new failures"}, {"still_failing", "still failing"},
      {"fixed", "fixed"}, {"new_test", "new tests"}};
  for (const auto& [change, label] : kKinds) {
    std::string line;
    for (const json::value& t : tests->as_array()) {
      if (!t.is_object() || Str(t.as_object(), "change") != change) continue;
      line += line.empty() ? "" : ", ";
      line += Str(t.as_object(), "name");
      if (std::string_view(change) != "new_test") line += ChangeNote(t.as_object());
    }
    if (!line.empty()) std::printf("%s: %s\n", label, line.c_str());
  }
}

// Prints a run's hold (hold on failure) from its JSON: what is held and how to release it,
// or how the hold ended. Nothing for a run that held nothing.
void PrintHold(const json::object& run) {
  const json::value* value = run.if_contains("hold");
  if (value == nullptr || !value->is_object()) return;
  const json::object& hold = value->as_object();
  const std::string ended = Str(hold, "ended");
  if (ended.empty()) {
    std::printf("  held: %s (attempt %lld) before its cleanups, until %s\n",
                Str(hold, "test").c_str(), static_cast<long long>(Int(hold, "attempt")),
                Str(hold, "release_at").c_str());
  } else {
    std::printf("  hold of %s ended (%s) at %s\n", Str(hold, "test").c_str(), ended.c_str(),
                Str(hold, "released_at").c_str());
  }
  const long long pid = static_cast<long long>(Int(hold, "pid"));
  std::printf("    process   pid %lld: gdb -p %lld\n", pid, pid);
  const std::string temp_dir = Str(hold, "temp_dir");
  std::printf("    temp dir  %s\n", temp_dir.empty() ? "none (the test made none)" : temp_dir.c_str());
  if (const json::value* endpoints = hold.if_contains("endpoints");
      endpoints != nullptr && endpoints->is_array()) {
    for (const json::value& item : endpoints->as_array()) {
      if (!item.is_object()) continue;
      const json::object& e = item.as_object();
      const std::string container = Str(e, "container_id");
      std::printf("    endpoint  %s %s %s (%s)\n", Str(e, "runnable").c_str(),
                  Str(e, "port").c_str(), Str(e, "endpoint").c_str(),
                  container.empty() ? fmt::format("pid {}", Int(e, "pid")).c_str()
                                    : ("container " + container.substr(0, 12)).c_str());
    }
  }
  if (ended.empty()) {
    std::printf("    release   handoff remote release %lld\n",
                static_cast<long long>(Int(run, "id")));
  }
}

bool IsFinishedRun(const std::string& status) {
  return status == "passed" || status == "failed" || status == "cancelled" || status == "error";
}

void PrintRunLine(const json::object& run) {
  std::printf("%-8lld %-24s %-10s %-9s %-20s %s\n", static_cast<long long>(Int(run, "id")),
              Str(run, "suite").c_str(), Str(run, "status").c_str(), Str(run, "trigger").c_str(),
              Str(run, "reference").c_str(), Str(run, "created_at").c_str());
}

// Prints finished tests as go test does, "--- PASS: Name (0.01s)", each subtest indented
// under its top-level test. A top-level test is sent finished once, after its last attempt;
// its subtests are sent as each attempt ends them, in batches that may put a subtest's
// result before another's that started first, or skip an attempt's result that a later one
// replaced before it was written. So subtests wait for their parent and are printed under
// it once each, as its last attempt left them, in the order they started.
class FinishedPrinter {
 public:
  void Print(const json::object& test) {
    const std::string name = Str(test, "name");
    const std::int64_t attempt = Int(test, "attempt");
    // A finished test is sent again when the run's end marks it (new failure, fixed...),
    // with the same attempt and status: its line is printed once, the marks in the summary
    // after the run.
    if (!seen_.insert(fmt::format("{}\n{}\n{}", name, attempt, Str(test, "status"))).second) {
      return;
    }
    const std::string top = name.substr(0, name.find('/'));
    std::string line = fmt::format("{}--- {}: {} ({:.2f}s)", std::string(4 * Depth(name), ' '),
                                   Word(test), name,
                                   static_cast<double>(Int(test, "duration_ms")) / 1000.0);
    if (Word(test) == "FLAKY") line += fmt::format(" after {} attempts", attempt);
    if (!Str(test, "message").empty()) {
      line += fmt::format("\n{}    {}", std::string(4 * Depth(name), ' '), Str(test, "message"));
    }
    if (top != name && printed_.count(top) == 0) {
      Waiting& waiting = waiting_[top][name];
      if (attempt >= waiting.attempt) {
        waiting = Waiting{attempt, Str(test, "started_at"), ++arrivals_, std::move(line)};
      }
      return;
    }
    std::printf("%s\n", line.c_str());
    if (top == name) {
      printed_.insert(top);
      if (auto it = waiting_.find(top); it != waiting_.end()) {
        PrintSubtests(it->second, attempt);
        waiting_.erase(it);
      }
    }
    std::fflush(stdout);
  }

  // Prints the subtests whose parent never finished (the run was cancelled while it ran).
  void Flush() {
    for (const auto& [top, subtests] : waiting_) PrintSubtests(subtests, 0);
    waiting_.clear();
    std::fflush(stdout);
  }

 private:
  struct Waiting {
    std::int64_t attempt = 0;
    std::string started_at;  // RFC 3339 in milliseconds, in one width: ordered as text
    std::uint64_t arrival = 0;  // the order this attempt's result came in
    std::string line;
  };

  // Prints a parent's subtests in the order they started (in the order their results came
  // when they started in the same millisecond: the order of a batch), leaving out those of an
  // attempt before `parent_attempt`.
  static void PrintSubtests(const std::map<std::string, Waiting>& subtests,
                            std::int64_t parent_attempt) {
    std::vector<std::pair<const std::string*, const Waiting*>> order;
    for (const auto& [name, waiting] : subtests) {
      if (waiting.attempt >= parent_attempt) order.emplace_back(&name, &waiting);
    }
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      return std::tie(a.second->started_at, a.second->arrival) <
             std::tie(b.second->started_at, b.second->arrival);
    });
    for (const auto& [name, waiting] : order) std::printf("%s\n", waiting->line.c_str());
  }

  std::uint64_t arrivals_ = 0;
  std::set<std::string> seen_;     // tests printed or waiting, by name, attempt and status
  std::set<std::string> printed_;  // top-level tests printed
  std::map<std::string, std::map<std::string, Waiting>> waiting_;  // top -> subtest -> latest
};

// How long a follower (of a run, of a hunt) keeps trying a server it cannot reach: it waits
// longer after each failure in a row (up to 2 s), and gives up after 30 of them.
class Patience {
 public:
  // Waits before the next try; false once it is time to give up.
  bool Wait() {
    if (++failures_ > kMaxFailures) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200 * std::min(failures_, 10)));
    return true;
  }
  // The server answered.
  void Reset() { failures_ = 0; }

 private:
  static constexpr int kMaxFailures = 30;
  int failures_ = 0;
};

// Follows a run's event stream until it finishes, printing each finished test; resumes
// after a dropped connection. Returns the run's final status, or "" if the server was lost.
std::string Follow(http::Client& client, std::int64_t id, std::string* error) {
  std::string final_status;
  FinishedPrinter printer;
  std::int64_t last = 0;
  Patience patience;
  const std::string target = fmt::format("/api/v1/runs/{}/events", id);
  while (final_status.empty()) {
    http::StreamResult r = client.StreamEvents(
        target, last,
        [&](std::int64_t event_id, const std::string& type, const std::string& data) {
          last = event_id;
          patience.Reset();
          json::error_code ec;
          json::value v = json::parse(data, ec);
          if (ec || !v.is_object()) return true;
          const json::object& o = v.as_object();
          const std::string status = Str(o, "status");
          if (type == "test") {
            if (IsFinishedTest(status)) printer.Print(o);
          } else if (type == "run") {
            if (status == "held") {
              std::printf("run %lld held:\n", static_cast<long long>(id));
              PrintHold(o);
              std::fflush(stdout);
            }
            if (IsFinishedRun(status)) {
              final_status = status;
              return false;
            }
          }
          return true;
        });
    if (!final_status.empty()) break;
    if (r.ok() && r.status != 200) {
      *error = fmt::format("events of run {}: HTTP {}: {}", id, r.status, r.body);
      return {};
    }
    // The stream ended without the run finishing (server restart): resume where it left.
    if (!patience.Wait()) {
      *error = fmt::format("lost the server while following run {}: {}", id, r.error);
      return {};
    }
  }
  printer.Flush();
  return final_status;
}

// Appends the fields of a run's request that trigger and hunt share (filter, reference,
// initiated_by, max_attempts, timeout, labels, params); returns the error of a malformed
// --label or --param.
std::string AppendRunFields(std::string& body, const RemoteCommand& c) {
  body += ",\"filter\":";
  AppendJsonString(body, c.filter);
  body += ",\"reference\":";
  AppendJsonString(body, c.reference);
  std::string who = c.initiated_by;
  if (who.empty() && std::getenv("USER") != nullptr) who = std::getenv("USER");
  body += ",\"initiated_by\":";
  AppendJsonString(body, who);
  if (c.attempts > 0) body += fmt::format(",\"max_attempts\":{}", c.attempts);
  if (!c.timeout.empty()) {
    body += ",\"timeout\":";
    AppendJsonString(body, c.timeout);
  }
  if (std::string e = AppendPairs(body, "labels", c.labels); !e.empty()) return e;
  return AppendPairs(body, "params", c.params);
}

// A count of a hunt's runs ("total", "failed", ...), 0 if the server could not count them.
std::int64_t HuntCount(const json::object& hunt, std::string_view key) {
  const json::value* runs = hunt.if_contains("runs");
  return runs != nullptr && runs->is_object() ? Int(runs->as_object(), key) : 0;
}

double Number(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_double()) return v->as_double();
  if (v->is_int64()) return static_cast<double>(v->as_int64());
  if (v->is_uint64()) return static_cast<double>(v->as_uint64());
  return 0;
}

// "12.5% (95% CI 3.5%-36.0%)", or "-" before a run passed or failed.
std::string RateText(const json::object& hunt) {
  const json::value* rate = hunt.if_contains("failure_rate");
  if (rate == nullptr || !rate->is_object() || Int(rate->as_object(), "runs") == 0) return "-";
  const json::object& r = rate->as_object();
  return fmt::format("{:.1f}% (95% CI {:.1f}%-{:.1f}%)", 100 * Number(r, "observed"),
                     100 * Number(r, "low"), 100 * Number(r, "high"));
}

void PrintHunt(const json::object& h) {
  std::printf("hunt %lld  suite %s  %s\n", static_cast<long long>(Int(h, "id")),
              Str(h, "suite").c_str(), Str(h, "status").c_str());
  std::string asked;
  if (Int(h, "repeat") > 0) asked += fmt::format("  repeat {}", Int(h, "repeat"));
  if (Int(h, "max_duration_ms") > 0) {
    asked += fmt::format("  max duration {}s", Int(h, "max_duration_ms") / 1000);
  }
  if (Bool(h, "until_failure")) asked += "  until failure";
  if (Bool(h, "hold_on_failure")) asked += "  hold on failure";
  if (!Str(h, "filter").empty()) asked += "  filter " + Str(h, "filter");
  std::printf("%s\n", asked.c_str());
  std::printf("  runs %lld: %lld passed, %lld failed, %lld cancelled, %lld error, %lld unfinished\n",
              static_cast<long long>(HuntCount(h, "total")),
              static_cast<long long>(HuntCount(h, "passed")),
              static_cast<long long>(HuntCount(h, "failed")),
              static_cast<long long>(HuntCount(h, "cancelled")),
              static_cast<long long>(HuntCount(h, "error")),
              static_cast<long long>(HuntCount(h, "unfinished")));
  std::printf("  failure rate %s\n", RateText(h).c_str());
  if (Int(h, "first_failing_run") != 0) {
    std::printf("  first failing run %lld\n", static_cast<long long>(Int(h, "first_failing_run")));
  }
  if (!Str(h, "error").empty()) std::printf("  %s\n", Str(h, "error").c_str());
}

// Reads a GET answer's JSON object: nullopt (and `error` set) when the server answered
// with an error of the request's own (4xx), an empty object to try again (unreachable,
// 5xx, not JSON).
std::optional<json::value> Answer(const http::ClientResult& r, std::string* error) {
  if (r.ok() && r.status >= 400 && r.status < 500) {
    *error = fmt::format("HTTP {}: {}", r.status, r.body);
    return std::nullopt;
  }
  json::error_code ec;
  json::value v = r.ok() && r.status == 200 ? json::parse(r.body, ec) : json::value();
  if (ec || !v.is_object()) return json::value(json::object());
  return v;
}

// Follows hunt `id` until it ends, printing each run of it as it finishes, then the hunt.
// Returns 0 if it passed, or was stopped with no run failed or in error; 1 otherwise
// (a run failed, it was cancelled or ended in error); 2 if the server was lost or refused
// the request (a token without the read role).
int FollowHunt(http::Client& client, const std::string& base, std::int64_t id) {
  std::set<std::int64_t> printed;
  Patience patience;
  std::string error;
  while (true) {
    std::optional<json::value> hunt =
        Answer(client.Request("GET", fmt::format("{}/api/v1/hunts/{}", base, id)), &error);
    if (!hunt) return FailRemote(fmt::format("hunt {}: {}", id, error));
    // Its newest runs: more than a look apart would need 500 runs to finish in half a
    // second, each in a worker of its own.
    std::optional<json::value> page = Answer(
        client.Request("GET", fmt::format("{}/api/v1/runs?hunt={}&limit=500", base, id)), &error);
    if (!page) return FailRemote(fmt::format("runs of hunt {}: {}", id, error));
    const json::value* runs = page->as_object().if_contains("runs");
    if (!hunt->as_object().contains("id") || runs == nullptr || !runs->is_array()) {
      if (!patience.Wait()) {
        return FailRemote(fmt::format("lost the server while following hunt {}", id));
      }
      continue;
    }
    patience.Reset();
    // Oldest first: the list is newest first.
    const json::array& items = runs->as_array();
    for (auto it = items.rbegin(); it != items.rend(); ++it) {
      if (!it->is_object()) continue;
      const json::object& run = it->as_object();
      if (!IsFinishedRun(Str(run, "status")) || !printed.insert(Int(run, "id")).second) continue;
      std::printf("run %lld %s\n", static_cast<long long>(Int(run, "id")),
                  Str(run, "status").c_str());
    }
    std::fflush(stdout);
    const json::object& o = hunt->as_object();
    if (Str(o, "status") != "running" && HuntCount(o, "unfinished") == 0) {
      PrintHunt(o);
      const std::string status = Str(o, "status");
      const bool clean = (status == "passed" || status == "stopped") &&
                         HuntCount(o, "failed") == 0 && HuntCount(o, "error") == 0;
      return clean ? 0 : kExitFailed;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// The token flags, on `remote` and each of its commands (like --server), so they go before
// or after the command's name.
void AddTokenFlags(CLI::App* cmd, RemoteCommand& c) {
  cmd->add_option("--token", c.token,
                  "API token of the server (prefer HANDOFF_TOKEN or --token-file: a flag's "
                  "value is visible to other users in ps)")
      ->envname("HANDOFF_TOKEN");
  cmd->add_option("--token-file", c.token_file, "Read the API token from this file")
      ->envname("HANDOFF_TOKEN_FILE");
}

// The TLS flags, on `remote` and each of its commands, like the token flags.
void AddTlsFlags(CLI::App* cmd, RemoteCommand& c) {
  cmd->add_option("--cacert", c.cacert,
                  "For https:// servers: trust the CA certificates in this PEM file (default: "
                  "the system's)")
      ->envname("HANDOFF_CACERT");
  cmd->add_option("--cert", c.cert,
                  "For https:// servers that ask for one: this PEM client certificate (mTLS)")
      ->envname("HANDOFF_CERT");
  cmd->add_option("--key", c.key, "The PEM private key of --cert")->envname("HANDOFF_KEY");
}

// The token the user gave (--token, HANDOFF_TOKEN, or the first line of --token-file), or
// an error message.
std::optional<std::string> Token(const RemoteCommand& c, std::string* error) {
  if (!c.token.empty() && !c.token_file.empty()) {
    *error = "--token and --token-file: give only one";
    return std::nullopt;
  }
  if (c.token_file.empty()) return c.token;
  std::ifstream in(c.token_file);
  std::string line;
  if (!in || !std::getline(in, line)) {
    *error = fmt::format("--token-file: cannot read {}", c.token_file);
    return std::nullopt;
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) {
    *error = fmt::format("--token-file: {} is empty", c.token_file);
    return std::nullopt;
  }
  return line;
}

}  // namespace

RemoteCommand* AddRemoteCommand(CLI::App& app) {
  static RemoteCommand command;
  RemoteCommand& c = command;
  c.remote = app.add_subcommand(
      "remote",
      "Talk to a handoff server: trigger, ingest, hunt, suites, runs, get, release, history, "
      "search, health");
  c.remote->require_subcommand(1, 1);
  c.remote->add_option("--server", c.server, kServerHelp)
      ->envname("HANDOFF_SERVER");
  AddTokenFlags(c.remote, c);
  AddTlsFlags(c.remote, c);

  c.trigger = c.remote->add_subcommand("trigger", "Start a run of SUITE on the server");
  c.trigger->add_option("suite", c.suite, "The suite to run")->required();
  c.trigger->add_option("--server", c.server, kServerHelp)
      ->envname("HANDOFF_SERVER");
  AddTokenFlags(c.trigger, c);
  AddTlsFlags(c.trigger, c);
  c.trigger->add_option("--filter,--run", c.filter, "Run only tests matching this regex");
  c.trigger->add_option("--reference", c.reference, "A commit, release or ticket to record");
  c.trigger->add_option("--initiated-by", c.initiated_by, "Who asks (default: $USER)");
  c.trigger->add_option("--label", c.labels, "A label KEY=VALUE to store on the run (repeatable)");
  c.trigger->add_option("--param", c.params, "A parameter KEY=VALUE for the tests (repeatable)");
  c.trigger->add_option("--timeout", c.timeout, "Timeout of each test, e.g. 30s");
  c.trigger->add_option("--attempts", c.attempts, "Attempts per failing test")
      ->check(WholeNumber(1));
  c.trigger->add_flag("--wait", c.wait,
                      "Follow the run until it ends; exit 0 if it passed, 1 otherwise");
  c.trigger->add_flag("--hold-on-failure", c.hold_on_failure,
                      "Hold the first failing test before its cleanups until released "
                      "(remote release ID, the UI) or the server's --max-hold");

  c.ingest = c.remote->add_subcommand(
      "ingest", "Store reports produced elsewhere (go test -json, JUnit XML, TAP) as one run "
                "of a suite");
  c.ingest->add_option("--server", c.server, kServerHelp)->envname("HANDOFF_SERVER");
  AddTokenFlags(c.ingest, c);
  AddTlsFlags(c.ingest, c);
  AddRemoteIngestOptions(c.ingest, c.ingest_options);

  c.suites = c.remote->add_subcommand("suites", "List the suites of the server");
  c.suites->add_option("--server", c.server, kServerHelp)->envname("HANDOFF_SERVER");
  AddTokenFlags(c.suites, c);
  AddTlsFlags(c.suites, c);
  c.suites->add_option("--format", c.format, "text or json")->check(CLI::IsMember({"text", "json"}));

  c.runs = c.remote->add_subcommand("runs", "List recent runs, newest first");
  c.runs->add_option("--server", c.server, kServerHelp)
      ->envname("HANDOFF_SERVER");
  AddTokenFlags(c.runs, c);
  AddTlsFlags(c.runs, c);
  c.runs->add_option("--suite", c.runs_suite, "Only runs of this suite");
  c.runs->add_option("--status", c.runs_status, "Only runs in this status");
  c.runs->add_option("--reference", c.runs_reference, "Only runs with this reference");
  c.runs->add_option("--limit", c.limit, "How many")->check(WholeNumber(1, 500));
  c.runs->add_option("--format", c.format, "text or json")->check(CLI::IsMember({"text", "json"}));

  c.health = c.remote->add_subcommand(
      "health", "Ask the server whether it is alive (/healthz) or --ready to take runs "
                "(/readyz): exit 0 if so, 1 if not or unreachable (a container's health check)");
  c.health->add_option("--server", c.server,
                       "The server (default: http://127.0.0.1:$HANDOFF_PORT, the server of "
                       "this container)")
      ->envname("HANDOFF_SERVER");
  AddTokenFlags(c.health, c);
  AddTlsFlags(c.health, c);
  c.health->add_flag("--ready", c.ready, "Ask /readyz: the store answers and writes");

  c.history = c.remote->add_subcommand(
      "history", "Show one test across the runs of its suite, newest first, and its first failure");
  c.history->add_option("suite", c.suite, "The suite")->required();
  c.history->add_option("test", c.test, "The test (Test or Test/Sub)")->required();
  c.history->add_option("--server", c.server, kServerHelp)->envname("HANDOFF_SERVER");
  AddTokenFlags(c.history, c);
  AddTlsFlags(c.history, c);
  c.history->add_option("--limit", c.limit, "How many runs")->check(WholeNumber(1, 500));
  c.history->add_option("--format", c.format, "text or json")->check(CLI::IsMember({"text", "json"}));

  c.search = c.remote->add_subcommand(
      "search", "Find tests of stored runs by name (--test) and failure text (--failure)");
  c.search->add_option("--server", c.server, kServerHelp)->envname("HANDOFF_SERVER");
  AddTokenFlags(c.search, c);
  AddTlsFlags(c.search, c);
  c.search->add_option("--test", c.test, "A part of the test's name (any case)");
  c.search->add_option("--failure", c.failure, "A part of its failure's message (any case)");
  c.search->add_option("--suite", c.runs_suite, "Only tests of this suite");
  c.search->add_option("--limit", c.limit, "How many tests")->check(WholeNumber(1, 500));
  c.search->add_option("--format", c.format, "text or json")->check(CLI::IsMember({"text", "json"}));

  c.hunt = c.remote->add_subcommand(
      "hunt", "Hunt a flaky test: run SUITE again and again (--repeat, --max-duration), "
              "--until-failure stops at the first failed run");
  c.hunt->add_option("suite", c.suite, "The suite to run")->required();
  c.hunt->add_option("--server", c.server, kServerHelp)->envname("HANDOFF_SERVER");
  AddTokenFlags(c.hunt, c);
  AddTlsFlags(c.hunt, c);
  c.hunt->add_option("--repeat", c.repeat, "How many runs at most")->check(WholeNumber(1, 10000));
  c.hunt->add_option("--max-duration", c.max_duration,
                     "Start no run after this long, e.g. 2h (the run in progress finishes)");
  c.hunt->add_flag("--until-failure", c.until_failure, "Stop at the first failed run");
  c.hunt->add_flag("--hold-on-failure", c.hold_on_failure,
                   "Hold a failing test before its cleanups, for debugging (release it with "
                   "remote release)");
  c.hunt->add_option("--filter,--run", c.filter, "Run only tests matching this regex");
  c.hunt->add_option("--reference", c.reference, "A commit, release or ticket to record");
  c.hunt->add_option("--initiated-by", c.initiated_by, "Who asks (default: $USER)");
  c.hunt->add_option("--label", c.labels, "A label KEY=VALUE to store on each run (repeatable)");
  c.hunt->add_option("--param", c.params, "A parameter KEY=VALUE for the tests (repeatable)");
  c.hunt->add_option("--timeout", c.timeout, "Timeout of each test, e.g. 30s");
  c.hunt->add_option("--attempts", c.attempts,
                     "Attempts per failing test (default 1: a retry would hide the failure)")
      ->check(WholeNumber(1));
  c.hunt->add_flag("--wait", c.wait,
                   "Follow the hunt until it ends; exit 0 if no run failed, 1 otherwise");

  c.hunts = c.remote->add_subcommand("hunts", "List hunts, newest first, or show hunt ID");
  c.hunts->add_option("id", c.id, "A hunt's id: show that hunt and its runs")
      ->check(WholeNumber(1));
  c.hunts->add_option("--server", c.server, kServerHelp)->envname("HANDOFF_SERVER");
  AddTokenFlags(c.hunts, c);
  AddTlsFlags(c.hunts, c);
  c.hunts->add_option("--suite", c.runs_suite, "Only hunts of this suite");
  c.hunts->add_option("--status", c.runs_status, "Only hunts in this status");
  c.hunts->add_option("--limit", c.limit, "How many")->check(WholeNumber(1, 500));
  c.hunts->add_option("--format", c.format, "text or json")->check(CLI::IsMember({"text", "json"}));

  c.stop_hunt = c.remote->add_subcommand(
      "stop-hunt", "Stop hunt ID: no new run (the one in progress finishes, or --cancel it)");
  c.stop_hunt->add_option("id", c.id, "The hunt's id")->required()->check(WholeNumber(1));
  c.stop_hunt->add_option("--server", c.server, kServerHelp)->envname("HANDOFF_SERVER");
  AddTokenFlags(c.stop_hunt, c);
  AddTlsFlags(c.stop_hunt, c);
  c.stop_hunt->add_flag("--cancel", c.cancel, "Cancel the run in progress too");

  c.get = c.remote->add_subcommand("get", "Show one run and its tests");
  c.get->add_option("id", c.id, "The run's id")->required()->check(WholeNumber(1));
  c.get->add_option("--server", c.server, kServerHelp)
      ->envname("HANDOFF_SERVER");
  AddTokenFlags(c.get, c);
  AddTlsFlags(c.get, c);
  c.get->add_option("--format", c.format, "text or json")->check(CLI::IsMember({"text", "json"}));

  c.release = c.remote->add_subcommand(
      "release", "Release the test a run holds (hold on failure): its cleanups run, the run goes on");
  c.release->add_option("id", c.id, "The run's id")->required()->check(WholeNumber(1));
  c.release->add_option("--server", c.server, kServerHelp)->envname("HANDOFF_SERVER");
  AddTokenFlags(c.release, c);
  AddTlsFlags(c.release, c);
  return &c;
}

bool RemoteParsed(const RemoteCommand& command) { return command.remote->parsed(); }

namespace {

int RunRemoteCommand(const RemoteCommand& c) {
  std::string given = c.server;
  if (given.empty() && c.health->parsed()) {
    // In a server's own container: the port it serves on.
    const char* port = std::getenv("HANDOFF_PORT");
    given = fmt::format("http://127.0.0.1:{}", port != nullptr && *port != '\0' ? port : "1337");
  }
  if (given.empty()) return FailRemote("--server: required (or set HANDOFF_SERVER)");
  // "host:port" is what people type (and what `serve` prints after http://): assume http.
  const std::string server = given.find("://") == std::string::npos ? "http://" + given : given;
  std::string error;
  std::optional<http::Url> url = http::ParseUrl(server, &error);
  if (!url) return FailRemote("--server: " + error);
  std::shared_ptr<const http::ClientTls> tls;
  if (url->https) {
    if (const std::string missing = dynlib::LoadOpenSsl(); !missing.empty()) {
      return FailRemote("--server: " + missing);
    }
    if (c.cert.empty() != c.key.empty()) {
      return FailRemote(c.cert.empty() ? "--key needs --cert: give both for a client certificate"
                                 : "--cert needs --key: give both for a client certificate");
    }
    Result<std::shared_ptr<const http::ClientTls>> loaded =
        http::LoadClientTls({c.cacert, c.cert, c.key});
    if (!loaded.ok()) return FailRemote(loaded.error().message);
    tls = std::move(loaded).value();
  } else if (!c.cacert.empty() || !c.cert.empty() || !c.key.empty()) {
    return FailRemote(fmt::format(
        "--cacert, --cert and --key are for https:// servers, and --server is {}", server));
  }
  http::Client client(url->host, url->port, tls);
  const std::optional<std::string> token = Token(c, &error);
  if (!token) return FailRemote(error);
  if (!token->empty()) client.AddDefaultHeader("Authorization", "Bearer " + *token);

  if (c.trigger->parsed()) {
    std::string body = "{\"trigger\":\"cli\"";
    if (c.hold_on_failure) body += ",\"hold_on_failure\":true";
    if (std::string e = AppendRunFields(body, c); !e.empty()) return FailRemote(e);
    body += '}';
    http::ClientResult r =
        client.Request("POST", url->base + "/api/v1/suites/" + PercentEncode(c.suite) + "/runs",
                       body, {{"Content-Type", "application/json"}});
    if (!r.ok()) return FailRemote(fmt::format("cannot reach {}: {}", server, r.error));
    if (r.status != 201 && r.status != 200) return FailRemote(ServerErrorMessage(r));
    json::value v = json::parse(r.body);
    const json::object& run = v.as_object();
    const std::int64_t id = Int(run, "id");
    std::printf("run %lld of %s queued: %s/runs/%lld\n", static_cast<long long>(id),
                Str(run, "suite").c_str(), server.c_str(), static_cast<long long>(id));
    std::fflush(stdout);
    if (!c.wait) return 0;
    std::string status = Follow(client, id, &error);
    if (status.empty()) return FailRemote(error);
    std::printf("run %lld %s\n", static_cast<long long>(id), status.c_str());
    http::ClientResult final_run =
        client.Request("GET", fmt::format("{}/api/v1/runs/{}", url->base, id));
    json::error_code ec;
    const json::value parsed = json::parse(final_run.body, ec);
    if (final_run.ok() && final_run.status == 200 && !ec && parsed.is_object()) {
      PrintChanges(parsed.as_object());
    }
    return status == "passed" ? 0 : kExitFailed;
  }

  if (c.ingest->parsed()) return RunRemoteIngest(client, url->base, server, c.ingest_options);

  if (c.hunt->parsed()) {
    if (c.repeat == 0 && c.max_duration.empty()) {
      return FailRemote("hunt: give --repeat N, --max-duration D, or both");
    }
    std::string body = "{\"trigger\":\"cli\"";
    if (c.repeat > 0) body += fmt::format(",\"repeat\":{}", c.repeat);
    if (!c.max_duration.empty()) {
      body += ",\"max_duration\":";
      AppendJsonString(body, c.max_duration);
    }
    if (c.until_failure) body += ",\"until_failure\":true";
    if (c.hold_on_failure) body += ",\"hold_on_failure\":true";
    if (std::string e = AppendRunFields(body, c); !e.empty()) return FailRemote(e);
    body += '}';
    http::ClientResult r =
        client.Request("POST", url->base + "/api/v1/suites/" + PercentEncode(c.suite) + "/hunts",
                       body, {{"Content-Type", "application/json"}});
    if (!r.ok()) return FailRemote(fmt::format("cannot reach {}: {}", server, r.error));
    if (r.status != 201) return FailRemote(ServerErrorMessage(r));
    json::value v = json::parse(r.body);
    const std::int64_t id = Int(v.as_object(), "id");
    std::printf("hunt %lld of %s started: %s/hunts/%lld\n", static_cast<long long>(id),
                Str(v.as_object(), "suite").c_str(), server.c_str(), static_cast<long long>(id));
    std::fflush(stdout);
    if (!c.wait) return 0;
    return FollowHunt(client, url->base, id);
  }

  if (c.stop_hunt->parsed()) {
    http::ClientResult r = client.Request(
        "POST", fmt::format("{}/api/v1/hunts/{}/{}", url->base, c.id, c.cancel ? "cancel" : "stop"),
        "{}", {{"Content-Type", "application/json"}});
    if (!r.ok()) return FailRemote(fmt::format("cannot reach {}: {}", server, r.error));
    if (r.status != 200) return FailRemote(ServerErrorMessage(r));
    json::value v = json::parse(r.body);
    PrintHunt(v.as_object());
    return 0;
  }

  if (c.release->parsed()) {
    http::ClientResult r = client.Request(
        "POST", fmt::format("{}/api/v1/runs/{}/release", url->base, c.id), "{}",
        {{"Content-Type", "application/json"}});
    if (!r.ok()) return FailRemote(fmt::format("cannot reach {}: {}", server, r.error));
    if (r.status != 200) return FailRemote(ServerErrorMessage(r));
    std::printf("run %lld: release requested; its cleanups run now\n",
                static_cast<long long>(c.id));
    return 0;
  }

  if (c.health->parsed()) {
    // Docker reserves a health check's exit code 2: anything but healthy is 1.
    const char* path = c.ready ? "/readyz" : "/healthz";
    http::ClientResult r =
        client.Request("GET", url->base + path, {}, {}, std::chrono::seconds(5));
    if (!r.ok()) {
      std::fprintf(stderr, "handoff: cannot reach %s: %s\n", server.c_str(), r.error.c_str());
      return kExitFailed;
    }
    std::string body = r.body;
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    std::printf("%s%s: %d %s\n", server.c_str(), path, r.status, body.c_str());
    return r.status == 200 ? 0 : kExitFailed;
  }

  // GETs `target` into `r`; returns the exit code when that is all there is to do: the
  // server unreachable or refusing (2), or --format json (the body printed, 0).
  const auto read = [&](const std::string& target, http::ClientResult* r) -> std::optional<int> {
    *r = client.Request("GET", target);
    if (!r->ok()) return FailRemote(fmt::format("cannot reach {}: {}", server, r->error));
    if (r->status != 200) return FailRemote(ServerErrorMessage(*r));
    if (c.format == "json") {
      std::printf("%s\n", r->body.c_str());
      return 0;
    }
    return std::nullopt;
  };

  if (c.suites->parsed()) {
    http::ClientResult r;
    if (std::optional<int> done = read(url->base + "/api/v1/suites", &r)) return *done;
    json::value v = json::parse(r.body);
    std::printf("%-32s %-8s %-10s %s\n", "SUITE", "KIND", "LAST RUN", "STATUS");
    for (const json::value& item : v.as_object().at("suites").as_array()) {
      const json::object& suite = item.as_object();
      std::string last = "-", status = "-";
      if (const json::value* run = suite.if_contains("last_run"); run && run->is_object()) {
        last = fmt::format("#{}", Int(run->as_object(), "id"));
        status = Str(run->as_object(), "status");
      }
      std::printf("%-32s %-8s %-10s %s\n", Str(suite, "name").c_str(),
                  Bool(suite, "ingest_only") ? "ingested" : "declared", last.c_str(),
                  status.c_str());
    }
    return 0;
  }

  if (c.runs->parsed()) {
    std::string target = fmt::format("{}/api/v1/runs?limit={}", url->base, c.limit);
    if (!c.runs_suite.empty()) target += "&suite=" + PercentEncode(c.runs_suite);
    if (!c.runs_status.empty()) target += "&status=" + PercentEncode(c.runs_status);
    if (!c.runs_reference.empty()) target += "&reference=" + PercentEncode(c.runs_reference);
    http::ClientResult r;
    if (std::optional<int> done = read(target, &r)) return *done;
    json::value v = json::parse(r.body);
    std::printf("%-8s %-24s %-10s %-9s %-20s %s\n", "ID", "SUITE", "STATUS", "TRIGGER",
                "REFERENCE", "CREATED");
    for (const json::value& run : v.as_object().at("runs").as_array()) PrintRunLine(run.as_object());
    return 0;
  }

  if (c.hunts->parsed()) {
    if (c.id != 0) {
      http::ClientResult r;
      if (std::optional<int> done = read(fmt::format("{}/api/v1/hunts/{}", url->base, c.id), &r)) {
        return *done;
      }
      json::value v = json::parse(r.body);
      PrintHunt(v.as_object());
      http::ClientResult runs = client.Request(
          "GET", fmt::format("{}/api/v1/runs?hunt={}&limit=500", url->base, c.id));
      if (!runs.ok() || runs.status != 200) return 0;
      json::value list = json::parse(runs.body);
      std::printf("%-8s %-24s %-10s %-9s %-20s %s\n", "RUN", "SUITE", "STATUS", "TRIGGER",
                  "REFERENCE", "CREATED");
      for (const json::value& run : list.as_object().at("runs").as_array()) {
        PrintRunLine(run.as_object());
      }
      return 0;
    }
    std::string target = fmt::format("{}/api/v1/hunts?limit={}", url->base, c.limit);
    if (!c.runs_suite.empty()) target += "&suite=" + PercentEncode(c.runs_suite);
    if (!c.runs_status.empty()) target += "&status=" + PercentEncode(c.runs_status);
    http::ClientResult r;
    if (std::optional<int> done = read(target, &r)) return *done;
    json::value v = json::parse(r.body);
    std::printf("%-6s %-24s %-10s %-6s %-7s %-24s %s\n", "HUNT", "SUITE", "STATUS", "RUNS",
                "FAILED", "FAILURE RATE", "CREATED");
    for (const json::value& item : v.as_object().at("hunts").as_array()) {
      const json::object& h = item.as_object();
      std::printf("%-6lld %-24s %-10s %-6lld %-7lld %-24s %s\n",
                  static_cast<long long>(Int(h, "id")), Str(h, "suite").c_str(),
                  Str(h, "status").c_str(), static_cast<long long>(HuntCount(h, "total")),
                  static_cast<long long>(HuntCount(h, "failed")), RateText(h).c_str(),
                  Str(h, "created_at").c_str());
    }
    return 0;
  }

  if (c.history->parsed() || c.search->parsed()) {
    std::string target;
    if (c.history->parsed()) {
      target = fmt::format("{}/api/v1/suites/{}/tests/{}?limit={}", url->base,
                           PercentEncode(c.suite), PercentEncode(c.test), c.limit);
    } else {
      if (c.test.empty() && c.failure.empty()) return FailRemote("search: give --test, --failure or both");
      target = fmt::format("{}/api/v1/search/tests?limit={}", url->base, c.limit);
      if (!c.runs_suite.empty()) target += "&suite=" + PercentEncode(c.runs_suite);
      if (!c.test.empty()) target += "&test=" + PercentEncode(c.test);
      if (!c.failure.empty()) target += "&failure=" + PercentEncode(c.failure);
    }
    http::ClientResult r;
    if (std::optional<int> done = read(target, &r)) return *done;
    const json::value v = json::parse(r.body);
    const json::object& o = v.as_object();
    if (c.history->parsed()) {
      const json::value* first = o.if_contains("first_failure");
      if (first != nullptr && first->is_object()) {
        const json::object& f = first->as_object();
        std::printf("%s: first failed in run #%lld%s at %s\n", c.test.c_str(),
                    static_cast<long long>(Int(f, "run_id")),
                    Str(f, "reference").empty() ? "" : (" (" + Str(f, "reference") + ")").c_str(),
                    Str(f, "created_at").c_str());
      } else {
        std::printf("%s: never failed in the runs kept\n", c.test.c_str());
      }
    }
    std::printf("%-8s %-20s %-10s %-9s %s\n", "RUN", c.history->parsed() ? "REFERENCE" : "SUITE",
                "RESULT", "DURATION", c.history->parsed() ? "CREATED" : "TEST");
    for (const json::value& item : o.at(c.history->parsed() ? "runs" : "results").as_array()) {
      const json::object& e = item.as_object();
      const json::object& t = e.at("test").as_object();
      std::string line = fmt::format(
          "{:<8} {:<20} {:<10} {:<9} {:<20}{}", Int(e, "run_id"),
          c.history->parsed() ? Str(e, "reference") : Str(e, "suite"), Word(t),
          fmt::format("{:.2f}s", static_cast<double>(Int(t, "duration_ms")) / 1000.0),
          c.history->parsed() ? Str(e, "run_created_at") : Str(t, "name"), ChangeNote(t));
      while (!line.empty() && line.back() == ' ') line.pop_back();
      std::printf("%s\n", line.c_str());
      if (c.search->parsed() && !Str(t, "message").empty()) {
        std::printf("         %s\n", Str(t, "message").c_str());
      }
    }
    return 0;
  }

  // get
  http::ClientResult r;
  if (std::optional<int> done = read(fmt::format("{}/api/v1/runs/{}", url->base, c.id), &r)) {
    return *done;
  }
  json::value v = json::parse(r.body);
  const json::object& run = v.as_object();
  std::printf("run %lld  suite %s  %s\n", static_cast<long long>(Int(run, "id")),
              Str(run, "suite").c_str(), Str(run, "status").c_str());
  // Only the fields that say something: a run nobody initiated has no "by".
  const auto fields = [&](std::initializer_list<std::pair<const char*, const char*>> names) {
    std::string line;
    for (const auto& [label, key] : names) {
      const std::string value = Str(run, key);
      if (!value.empty()) line += fmt::format("  {} {}", label, value);
    }
    if (!line.empty()) std::printf("%s\n", line.c_str());
  };
  fields({{"trigger", "trigger"},
          {"by", "initiated_by"},
          {"schedule", "schedule"},
          {"reference", "reference"},
          {"environment", "environment"}});
  fields({{"created", "created_at"}, {"started", "started_at"}, {"finished", "finished_at"}});
  if (!Str(run, "error").empty()) std::printf("  %s\n", Str(run, "error").c_str());
  PrintHold(run);
  const json::value* tests = run.if_contains("tests");
  if (tests == nullptr || !tests->is_array()) return 0;
  for (const json::object* test : Nested(tests->as_array())) {
    const std::string name = Str(*test, "name");
    const std::string indent(2 + 2 * Depth(name), ' ');
    std::string line = fmt::format("{}{:<9}  {}", indent, Word(*test), name);
    const std::string status = Str(*test, "status");
    if (status != "pending" && status != "running") {
      line += fmt::format(" ({:.2f}s)", static_cast<double>(Int(*test, "duration_ms")) / 1000.0);
    }
    if (Word(*test) == "FLAKY") line += fmt::format(" after {} attempts", Int(*test, "attempt"));
    line += ChangeNote(*test);
    std::printf("%s\n", line.c_str());
    if (!Str(*test, "message").empty()) {
      std::printf("%s           %s\n", indent.c_str(), Str(*test, "message").c_str());
    }
  }
  return 0;
}

}  // namespace

void PrintRunChanges(const std::string& run_json) {
  json::error_code ec;
  const json::value parsed = json::parse(run_json, ec);
  if (!ec && parsed.is_object()) PrintChanges(parsed.as_object());
}

int RunRemote(const RemoteCommand& c) {
  const int code = RunRemoteCommand(c);
  // Docker reserves a health check's exit code 2: anything but healthy is 1.
  if (c.health->parsed() && code != 0) return kExitFailed;
  return code;
}

}  // namespace handoff
