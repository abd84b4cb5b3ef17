#include "external/external_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "duration/duration.h"
#include "event/trace_context.h"
#include "ingest/go_test_json.h"
#include "ingest/junit_xml.h"
#include "ingest/report_format.h"
#include "ingest/tap.h"

extern char** environ;

namespace handoff::external {
namespace {

using Clock = std::chrono::steady_clock;

// Output kept per test, as a C++ test's (worker_main.cc): the first kHeadBytes as they
// come, the last kTailBytes when the test ends, the middle counted and dropped.
constexpr std::size_t kHeadBytes = 512 << 10;
constexpr std::size_t kTailBytes = 512 << 10;
// A failure's text (go's failed test's own lines) is cut beyond this.
constexpr std::size_t kMaxFailureBytes = 64 << 10;
// A line of the command's output longer than this is cut into pieces.
constexpr std::size_t kMaxLine = 1 << 20;
// A JUnit report larger than this is not read.
constexpr std::size_t kMaxReportBytes = 256u << 20;

bool TopLevel(std::string_view test) {
  return !test.empty() && test.find('/') == std::string_view::npos;
}

std::string_view TopOf(std::string_view test) { return test.substr(0, test.find('/')); }

// Between a reader and the worker's sink: names the suite, numbers attempts, holds back
// the end of a failed test that will be tried again, drops a retry's results of tests it
// did not retry, caps output, and gives each attempt its trace.
class AttemptFilter {
 public:
  AttemptFilter(const wire::WorkerPlan& plan, EventSink& sink) : plan_(plan), sink_(sink) {}

  // A new run of the command: attempt `attempt`, taking only `only`'s tests when set.
  void StartRound(int attempt, std::optional<std::set<std::string>> only, std::string trace_id) {
    attempt_ = attempt;
    only_ = std::move(only);
    trace_id_ = std::move(trace_id);
    round_tests_ = 0;
    round_hard_failure_ = false;
    round_suite_failure_ = false;
    round_dropped_failure_ = false;
    cause_key_.clear();
    cancelled_ = false;
  }
  // The events from now on are the reader's Finish: failures they make carry `key`, and
  // after a cancel they are cancellations rather than failures.
  void Finishing(std::string key, bool cancelled) {
    cause_key_ = std::move(key);
    cancelled_ = cancelled;
    finish_failures_ = 0;
  }
  // The reader has finished; returns how many tests its Finish failed (or cancelled).
  int Finished() {
    cause_key_.clear();
    cancelled_ = false;
    return finish_failures_;
  }

  void Emit(Event e) {
    e.suite = plan_.suite;
    if (e.attempt <= 0) e.attempt = attempt_;
    const std::string_view top = TopOf(e.test);
    if (!e.test.empty() && only_ && only_->count(std::string(top)) == 0) {
      // A test this round did not retry (the tool ran more than it was asked): its result
      // is not taken, but its failure explains a failed exit status.
      if (e.kind == EventKind::kFailure && !e.soft) round_dropped_failure_ = true;
      return;
    }
    switch (e.kind) {
      case EventKind::kTestStarted:
        ++round_tests_;
        if (TopLevel(e.test)) {
          e.trace_id = trace_id_;
          e.trace_span = NewSpanId();
          spans_[e.test] = e.trace_span;
        } else if (auto it = spans_.find(top); it != spans_.end()) {
          e.trace_id = trace_id_;
          e.trace_span = NewSpanId();
          e.parent_span = it->second;
        }
        budgets_.erase(e.test);
        break;
      case EventKind::kOutput:
        if (!Budget(e)) return;
        break;
      case EventKind::kFailure:
        if (e.text.size() > kMaxFailureBytes) {
          e.text.resize(kMaxFailureBytes);
          e.text += "\n[handoff: the failure's text was cut here]";
        }
        if (!cause_key_.empty() && e.key.empty()) e.key = cause_key_;
        if (!cause_key_.empty() || cancelled_) ++finish_failures_;
        if (cancelled_) {
          e.kind = EventKind::kSkip;
          e.key.clear();
        } else if (!e.soft) {
          if (e.test.empty()) {
            round_suite_failure_ = true;
          } else {
            round_hard_failure_ = true;
          }
        }
        break;
      case EventKind::kAttemptFinished:
        if (cancelled_ && e.status == Status::kFailed) e.status = Status::kCancelled;
        // The kept tail of the output belongs to the attempt, which is stored when it ends.
        EndOutput(e.test);
        break;
      case EventKind::kTestFinished: {
        if (cancelled_ && e.status == Status::kFailed) e.status = Status::kCancelled;
        EndOutput(e.test);
        if (!TopLevel(e.test)) break;
        spans_.erase(e.test);
        auto held = held_.find(e.test);
        if (held != held_.end()) {
          if (e.status == Status::kSkipped || e.status == Status::kCancelled) {
            // A retry that did not run the test (the tool's filter missed it) or was cut
            // short never replaces the failure it was to retry.
            Event failed = std::move(held->second);
            held_.erase(held);
            sink_.OnEvent(failed);
            return;
          }
          if (e.status == Status::kPassed) e.flaky = true;
          held_.erase(held);
        }
        if (e.status == Status::kFailed && !e.soft && e.attempt < plan_.max_attempts &&
            !cancelled_) {
          held_.emplace(e.test, std::move(e));
          return;
        }
        break;
      }
      default:
        break;
    }
    sink_.OnEvent(e);
  }

  // Suite-level output (stderr, lines the reader does not take).
  void Output(std::string_view line) {
    Event e;
    e.kind = EventKind::kOutput;
    e.time_ns = NowNs();
    e.text = line;
    Emit(std::move(e));
  }

  void SuiteFailure(std::string text, std::string key = {}) {
    Event e;
    e.kind = EventKind::kFailure;
    e.time_ns = NowNs();
    e.text = std::move(text);
    e.key = std::move(key);
    Emit(std::move(e));
  }

  // The tests whose end is held for a retry, taken (their ends are re-emitted by Release).
  std::vector<std::string> Held() const {
    std::vector<std::string> names;
    for (const auto& [name, e] : held_) names.push_back(name);
    return names;
  }
  // Emits the held ends: the tests a retry did not run again, or no retry is left.
  void Release() {
    for (auto& [name, e] : held_) sink_.OnEvent(e);
    held_.clear();
    EndOutput("");
  }

  int round_tests() const { return round_tests_; }
  bool round_hard_failure() const { return round_hard_failure_; }
  bool round_suite_failure() const { return round_suite_failure_; }
  bool round_dropped_failure() const { return round_dropped_failure_; }

 private:
  struct OutputBudget {
    std::size_t head = 0;
    std::size_t dropped = 0;
    std::deque<Event> tail;
    std::size_t tail_bytes = 0;
  };

  // Returns true if `e` (an output line) is sent now; else it is kept in the tail.
  bool Budget(Event& e) {
    OutputBudget& b = budgets_[e.test];
    if (b.head + e.text.size() + 1 <= kHeadBytes) {
      b.head += e.text.size() + 1;
      return true;
    }
    b.tail_bytes += e.text.size() + 1;
    b.tail.push_back(std::move(e));
    while (b.tail_bytes > kTailBytes && !b.tail.empty()) {
      b.tail_bytes -= b.tail.front().text.size() + 1;
      b.dropped += b.tail.front().text.size() + 1;
      b.tail.pop_front();
    }
    return false;
  }

  // Sends what the tail of `test`'s output kept, before its end.
  void EndOutput(const std::string& test) {
    auto it = budgets_.find(test);
    if (it == budgets_.end()) return;
    OutputBudget b = std::move(it->second);
    budgets_.erase(it);
    if (b.dropped > 0) {
      Event note = b.tail.empty() ? Event{} : b.tail.front();
      note.kind = EventKind::kOutput;
      note.suite = plan_.suite;
      note.test = test;
      note.time_ns = NowNs();
      note.text = fmt::format("[handoff: {} bytes of output dropped; first {} and last {} bytes kept]",
                              b.dropped, kHeadBytes, kTailBytes);
      sink_.OnEvent(note);
    }
    for (const Event& line : b.tail) sink_.OnEvent(line);
  }

  const wire::WorkerPlan& plan_;
  EventSink& sink_;
  int attempt_ = 1;
  std::optional<std::set<std::string>> only_;
  std::string trace_id_;
  std::map<std::string, std::uint64_t, std::less<>> spans_;  // top-level test -> its span
  std::map<std::string, Event> held_;
  std::map<std::string, OutputBudget> budgets_;
  int round_tests_ = 0;
  bool round_hard_failure_ = false;
  bool round_suite_failure_ = false;
  bool round_dropped_failure_ = false;
  std::string cause_key_;
  bool cancelled_ = false;
  int finish_failures_ = 0;
};

// The reader of the command's format, behind one interface.
class Reader {
 public:
  virtual ~Reader() = default;
  // A line of stdout; false if it is not the report's (it is then the suite's output).
  virtual bool Line(std::string_view line) = 0;
  virtual void Finish(const std::string& why) = 0;
  // The stream ended: emits what its last lines said (before Finish says what was cut short).
  virtual void EndOfStream() {}
};

template <typename R>
class LineReader : public Reader {
 public:
  template <typename... Args>
  explicit LineReader(Args&&... args) : reader_(std::forward<Args>(args)...) {}
  bool Line(std::string_view line) override { return reader_.ReadLine(line).ok(); }
  void Finish(const std::string& why) override { reader_.Finish(why); }
  void EndOfStream() override {
    if constexpr (requires(R& r) { r.EndPendingPoint(); }) reader_.EndPendingPoint();
  }

 private:
  R reader_;
};

// JUnit: stdout is output; the report is read by RunRound once the command has ended.
class NoStreamReader : public Reader {
 public:
  bool Line(std::string_view) override { return false; }
  void Finish(const std::string&) override {}
};

std::string TrimLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return std::string(line);
}

// Splits a byte stream into lines, cutting lines longer than kMaxLine.
class LineSplitter {
 public:
  template <typename F>
  void Feed(std::string_view bytes, F&& line) {
    partial_.append(bytes);
    std::size_t start = 0;
    while (true) {
      const std::size_t nl = partial_.find('\n', start);
      if (nl == std::string::npos) break;
      line(std::string_view(partial_).substr(start, nl - start));
      start = nl + 1;
    }
    partial_.erase(0, start);
    while (partial_.size() >= kMaxLine) {
      line(std::string_view(partial_).substr(0, kMaxLine));
      partial_.erase(0, kMaxLine);
    }
  }
  template <typename F>
  void End(F&& line) {
    if (!partial_.empty()) line(std::string_view(partial_));
    partial_.clear();
  }

 private:
  std::string partial_;
};

std::string UpperParam(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c >= 'a' && c <= 'z') {
      out += static_cast<char>(c - 'a' + 'A');
    } else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      out += c;
    } else {
      out += '_';
    }
  }
  return out;
}

// The environment of the command: this process's, the suite's, the params, TRACEPARENT.
std::vector<std::string> Environment(const wire::WorkerPlan& plan, const std::string& traceparent) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    const std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    vars[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  for (const auto& [key, value] : plan.external->env) vars[key] = value;
  for (const auto& [key, value] : plan.params) vars[ParamVariable(key)] = value;
  if (!traceparent.empty()) vars["TRACEPARENT"] = traceparent;
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (const auto& [key, value] : vars) out.push_back(key + "=" + value);
  return out;
}

std::string Join(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

// A started command: its pid (the leader of its own process group) and its output pipes.
struct Child {
  pid_t pid = -1;
  int out = -1;
  int err = -1;
};

Result<Child> Spawn(const std::vector<std::string>& argv, const std::string& dir,
                    const std::vector<std::string>& env) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Error{ErrorCode::kUnavailable, std::strerror(errno)};
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return Error{ErrorCode::kUnavailable, std::strerror(errno)};
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  if (!dir.empty()) posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // A group of its own, so that a timeout or a cancel reaches what it started.
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t defaults;
  sigfillset(&defaults);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    return Error{ErrorCode::kInvalid,
                 fmt::format("cannot run {}{}: {}", argv[0],
                             dir.empty() ? "" : " in " + dir, std::strerror(rc))};
  }
  return Child{pid, out[0], err[0]};
}

std::string ReportPath(const wire::ExternalPlan& x) {
  if (x.report_file.empty() || x.report_file[0] == '/' || x.working_dir.empty()) {
    return x.report_file;
  }
  return x.working_dir + "/" + x.report_file;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{ErrorCode::kNotFound, std::strerror(errno)};
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(std::max<std::streamoff>(in.tellg(), 0));
  if (size > kMaxReportBytes) {
    return Error{ErrorCode::kInvalid, fmt::format("{} bytes, more than the {} read", size, kMaxReportBytes)};
  }
  in.seekg(0);
  std::string data(size, '\0');
  in.read(data.data(), static_cast<std::streamsize>(size));
  return data;
}

// How one run of the command ended.
struct RoundEnd {
  int wait_status = 0;
  bool timed_out = false;
  bool cancelled = false;
  int refused_lines = 0;
  std::string first_refused;
  int lines = 0;  // on stdout and stderr
};

class CommandRunner {
 public:
  CommandRunner(const wire::WorkerPlan& plan, EventSink& sink, const std::atomic<bool>& stop)
      : plan_(plan), x_(*plan.external), filter_(plan, sink), stop_(stop) {}

  void Run() {
    const auto tool = static_cast<ExternalTool>(x_.tool);
    // Two params that become one variable ("a-b" and "a_b"): the command could not tell
    // which it got.
    std::map<std::string, std::string> variables;
    for (const auto& [key, value] : plan_.params) {
      auto [it, added] = variables.emplace(ParamVariable(key), key);
      if (!added && it->second != key) {
        filter_.StartRound(1, std::nullopt, NewTraceId());
        filter_.SuiteFailure(fmt::format("params \"{}\" and \"{}\" would both be {}: rename one",
                                         it->second, key, it->first));
        return;
      }
    }
    std::vector<std::string> first_args;
    std::optional<std::set<std::string>> only;
    if (!plan_.run_pattern.empty()) {
      Result<std::vector<std::string>> pattern = PatternArgs(tool, plan_.run_pattern);
      if (!pattern.ok()) {
        filter_.StartRound(1, std::nullopt, NewTraceId());
        filter_.SuiteFailure(pattern.error().message);
        return;
      }
      first_args = std::move(*pattern);
    }
    if (!x_.tests.empty()) {
      std::vector<std::string> select = SelectArgs(tool, x_.tests, x_.working_dir);
      first_args.insert(first_args.end(), select.begin(), select.end());
      only.emplace(x_.tests.begin(), x_.tests.end());
    }
    for (int attempt = 1;; ++attempt) {
      if (attempt == 1) {
        RunRound(attempt, WithArgs(tool, x_.command, first_args), std::move(only));
      } else {
        const std::vector<std::string> again = filter_.Held();
        RunRound(attempt, WithArgs(tool, x_.command, SelectArgs(tool, again, x_.working_dir)),
                 std::set<std::string>(again.begin(), again.end()));
      }
      if (filter_.Held().empty() || attempt >= plan_.max_attempts || stop_.load()) break;
    }
    filter_.Release();
  }

 private:
  void RunRound(int attempt, const std::vector<std::string>& argv,
                std::optional<std::set<std::string>> only) {
    const std::string trace_id = NewTraceId();
    const std::uint64_t span = NewSpanId();
    filter_.StartRound(attempt, std::move(only), trace_id);
    auto emit = [this](Event e) { filter_.Emit(std::move(e)); };
    std::unique_ptr<Reader> reader;
    const auto format = static_cast<ReportFormat>(x_.format);
    switch (format) {
      case ReportFormat::kGoTestJson:
        // go test -json of several packages is named by package; a command is one package
        // unless it names a pattern ("./...") or more than one package.
        reader = std::make_unique<LineReader<ingest::GoTestJsonReader>>(emit, attempt, ManyPackages());
        break;
      case ReportFormat::kTap:
        reader = std::make_unique<LineReader<ingest::TapReader>>(emit, attempt);
        break;
      case ReportFormat::kJUnitXml:
        reader = std::make_unique<NoStreamReader>();
        break;
    }
    const std::string report = ReportPath(x_);
    if (format == ReportFormat::kJUnitXml) ::unlink(report.c_str());

    Result<Child> child = Spawn(argv, x_.working_dir, Environment(plan_, FormatTraceParent(trace_id, span)));
    if (!child.ok()) {
      filter_.SuiteFailure(child.error().message);
      return;
    }
    RoundEnd end = Pump(*child, *reader);
    reader->EndOfStream();

    std::string why;
    if (end.timed_out) {
      why = fmt::format("killed: the suite's command ran past its timeout of {}",
                        FormatDuration(std::chrono::milliseconds(plan_.hook_timeout_ms)));
    } else if (end.cancelled) {
      why = "cancelled: the run was cancelled while the test ran";
    }
    bool explained = false;  // a failure of the suite says why the command ended
    if (format == ReportFormat::kJUnitXml) {
      Result<std::string> xml = ReadFile(report);
      if (!xml.ok()) {
        explained = true;
        if (!end.cancelled) {
          filter_.SuiteFailure(fmt::format("the command wrote no JUnit report at {} ({}; it {})",
                                           x_.report_file, xml.error().message, Describe(end)),
                               end.timed_out ? kCauseTimeout : "");
        }
      } else {
        Result<void> read = ingest::ReadJUnitXml(*xml, NowNs(), [&](Event e) {
          e.attempt += attempt - 1;
          filter_.Emit(std::move(e));
        });
        if (!read.ok()) {
          filter_.SuiteFailure(fmt::format("the JUnit report {} cannot be read: {}", x_.report_file,
                                           read.error().message));
        }
      }
    }
    filter_.Finishing(end.timed_out ? kCauseTimeout : "", end.cancelled);
    reader->Finish(why);
    const int killed_tests = filter_.Finished();

    if (end.cancelled) return;
    if (end.timed_out) {
      // No test was running when it was killed (as the report says: a JUnit report is
      // written at the end, and TAP names a test when it ends): the suite timed out.
      if (killed_tests == 0 && !explained) {
        filter_.SuiteFailure(why + "; the report names no test that was still running", kCauseTimeout);
      }
      return;
    }
    const bool exited_ok = WIFEXITED(end.wait_status) && WEXITSTATUS(end.wait_status) == 0;
    if (filter_.round_tests() == 0 && end.refused_lines > 0 && !filter_.round_suite_failure()) {
      filter_.SuiteFailure(fmt::format(
          "the command reported no test: none of its {} lines of output was {} (the first: {})",
          end.refused_lines, FormatName(format), end.first_refused));
    } else if (filter_.round_tests() == 0 && attempt == 1 && exited_ok && end.lines == 0 &&
               !filter_.round_suite_failure()) {
      filter_.SuiteFailure(fmt::format("the command ({}) printed nothing and reported no test",
                                       Join(argv)));
    } else if (!exited_ok && !filter_.round_hard_failure() && !filter_.round_suite_failure() &&
               !filter_.round_dropped_failure()) {
      filter_.SuiteFailure(fmt::format("the command ({}) {} and reported no failed test",
                                       Join(argv), Describe(end)));
    }
  }

  static const char* FormatName(ReportFormat format) {
    switch (format) {
      case ReportFormat::kGoTestJson: return "go test -json";
      case ReportFormat::kTap: return "TAP";
      case ReportFormat::kJUnitXml: return "JUnit";
    }
    return "?";
  }

  static std::string Describe(const RoundEnd& end) {
    if (end.timed_out) return "was killed at its timeout";
    if (WIFEXITED(end.wait_status)) return fmt::format("exited with status {}", WEXITSTATUS(end.wait_status));
    if (WIFSIGNALED(end.wait_status)) {
      const int sig = WTERMSIG(end.wait_status);
      const char* abbrev = sigabbrev_np(sig);
      return fmt::format("was killed by signal {} (SIG{})", sig, abbrev ? abbrev : "?");
    }
    return "ended";
  }

  // True when a `go test` command names a pattern ("./...") or more than one package. The
  // flags of go test that take a value in the next argument ("-timeout 5m") are skipped.
  bool ManyPackages() const {
    static const std::set<std::string, std::less<>> kWithValue = {
        "bench", "benchtime", "blockprofile", "blockprofilerate", "count", "coverpkg",
        "covermode", "coverprofile", "cpu", "cpuprofile", "exec", "fuzz", "fuzzminimizetime",
        "fuzztime", "gcflags", "list", "ldflags", "memprofile", "memprofilerate", "mod",
        "modfile", "mutexprofile", "mutexprofilefraction", "o", "outputdir", "overlay", "p",
        "parallel", "pkgdir", "run", "shuffle", "skip", "tags", "timeout", "trace", "vet",
        "asmflags", "compiler", "gccgoflags", "installsuffix", "toolexec"};
    int packages = 0;
    bool after_test = false;
    for (std::size_t i = 1; i < x_.command.size(); ++i) {
      const std::string& a = x_.command[i];
      if (!after_test) {
        after_test = a == "test";
        continue;
      }
      if (a.empty()) continue;
      if (a[0] == '-') {
        std::string_view flag(a);
        flag.remove_prefix(flag.starts_with("--") ? 2 : 1);
        if (flag.starts_with("test.")) flag.remove_prefix(5);
        if (flag.find('=') == std::string_view::npos && kWithValue.count(flag) != 0) ++i;
        continue;
      }
      if (a.find("...") != std::string::npos) return true;
      ++packages;
    }
    return packages > 1;
  }

  RoundEnd Pump(const Child& child, Reader& reader) {
    RoundEnd end;
    LineSplitter out_lines, err_lines;
    auto on_out = [&](std::string_view raw) {
      ++end.lines;
      const std::string line = TrimLine(raw);
      if (reader.Line(line)) return;
      if (!line.empty() && static_cast<ReportFormat>(x_.format) != ReportFormat::kJUnitXml) {
        if (end.refused_lines++ == 0) end.first_refused = line.substr(0, 200);
      }
      filter_.Output(line);
    };
    auto on_err = [&](std::string_view raw) {
      ++end.lines;
      filter_.Output(TrimLine(raw));
    };
    const auto start = Clock::now();
    const auto deadline = plan_.hook_timeout_ms > 0
                              ? start + std::chrono::milliseconds(plan_.hook_timeout_ms)
                              : Clock::time_point::max();
    const auto grace = std::chrono::milliseconds(x_.grace_ms);
    constexpr auto kNever = Clock::time_point::max();
    Clock::time_point kill_at = kNever;       // SIGKILL to the group, after a SIGINT's grace
    Clock::time_point stop_reading = kNever;  // the pipes are given up then
    bool exited = false, killed = false;
    // Asks the command to stop (a timeout or a cancel) once; a cancel leaves it half the
    // grace, so that what it reports still reaches the supervisor, which kills the worker
    // when the grace ends.
    auto ask_to_stop = [&](Clock::time_point now) {
      if (exited || kill_at != kNever) return;
      const bool late = now >= deadline;
      if (!late && !stop_.load()) return;
      (late ? end.timed_out : end.cancelled) = true;
      ::kill(-child.pid, SIGINT);
      kill_at = now + (late ? grace : grace / 2);
    };
    auto kill_when_due = [&](Clock::time_point now) {
      if (killed || now < kill_at) return;
      ::kill(-child.pid, SIGKILL);
      killed = true;
      stop_reading = std::min(stop_reading, now + std::chrono::seconds(1));
    };
    // Once the command has ended, what it left in its group is killed (before the command
    // is reaped, while its group still exists); something that left the group (setsid) may
    // keep the pipes open, so they are read a moment longer, then given up.
    auto reap_if_ended = [&](Clock::time_point now, bool block) {
      if (exited) return;
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(child.pid), &info, WEXITED | WNOWAIT | (block ? 0 : WNOHANG)) != 0 ||
          info.si_pid != child.pid) {
        return;
      }
      ::kill(-child.pid, SIGKILL);
      while (::waitpid(child.pid, &end.wait_status, 0) < 0 && errno == EINTR) {
      }
      exited = true;
      stop_reading = std::min(stop_reading, now + std::chrono::milliseconds(500));
    };
    bool out_open = true, err_open = true;
    char buf[1 << 16];
    while (out_open || err_open) {
      const auto now = Clock::now();
      reap_if_ended(now, false);
      ask_to_stop(now);
      kill_when_due(now);
      if (now >= stop_reading) break;
      pollfd p[2] = {{out_open ? child.out : -1, POLLIN, 0}, {err_open ? child.err : -1, POLLIN, 0}};
      const int ready = ::poll(p, 2, 20);
      if (ready < 0 && errno != EINTR) break;
      for (int i = 0; i < 2; ++i) {
        if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const ssize_t n = ::read(p[i].fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) {
          (i == 0 ? out_open : err_open) = false;
          continue;
        }
        const std::string_view bytes(buf, static_cast<std::size_t>(n));
        if (i == 0) {
          out_lines.Feed(bytes, on_out);
        } else {
          err_lines.Feed(bytes, on_err);
        }
      }
    }
    out_lines.End(on_out);
    err_lines.End(on_err);
    ::close(child.out);
    ::close(child.err);
    // The pipes are closed and the command may still run: it has until its deadline (and the
    // grace after the SIGINT) to end; after a SIGKILL it ends at once.
    while (!exited) {
      const auto now = Clock::now();
      ask_to_stop(now);
      kill_when_due(now);
      reap_if_ended(now, killed);
      if (!exited) ::usleep(5000);
    }
    return end;
  }

  const wire::WorkerPlan& plan_;
  const wire::ExternalPlan& x_;
  AttemptFilter filter_;
  const std::atomic<bool>& stop_;
};

// Escapes RE2/ECMAScript metacharacters, for a pattern that matches `name` exactly.
std::string EscapeRegex(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (std::strchr("\\^$.|?*+()[]{}/", c) != nullptr) out += '\\';
    out += c;
  }
  return out;
}

// "tests.test_cart.TestRefund.test_full[a.b]" as pytest's node id
// "tests/test_cart.py::TestRefund::test_full[a.b]", when that file is under `dir`.
std::optional<std::string> PytestNodeId(std::string_view name, const std::string& dir) {
  const std::size_t bracket = name.find('[');
  const std::string_view dotted = name.substr(0, bracket);
  const std::string_view params = bracket == std::string_view::npos ? "" : name.substr(bracket);
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const std::size_t dot = dotted.find('.', start);
    parts.push_back(dotted.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  for (std::size_t k = parts.size() - 1; k >= 1; --k) {
    std::string path;
    for (std::size_t i = 0; i < k; ++i) path += std::string(i == 0 ? "" : "/") + std::string(parts[i]);
    path += ".py";
    struct stat st {};
    if (::stat(((dir.empty() ? "" : dir + "/") + path).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      continue;
    }
    std::string id = path;
    for (std::size_t i = k; i < parts.size(); ++i) id += "::" + std::string(parts[i]);
    return id + std::string(params);
  }
  return std::nullopt;
}

}  // namespace

const char* ReportFormatName(ReportFormat format) { return ingest::ReportFormatName(format); }

const char* ExternalToolName(ExternalTool tool) {
  switch (tool) {
    case ExternalTool::kGo: return "go";
    case ExternalTool::kPytest: return "pytest";
    case ExternalTool::kNode: return "node";
    case ExternalTool::kOther: return "other";
  }
  return "?";
}

std::optional<ReportFormat> ParseReportFormat(std::string_view name) {
  return ingest::ParseReportFormatName(name);
}

std::optional<ExternalTool> ParseExternalTool(std::string_view name) {
  for (ExternalTool t : {ExternalTool::kGo, ExternalTool::kPytest, ExternalTool::kNode, ExternalTool::kOther}) {
    if (name == ExternalToolName(t)) return t;
  }
  return std::nullopt;
}

std::string ParamVariable(std::string_view key) { return "HANDOFF_PARAM_" + UpperParam(key); }

std::vector<std::string> SelectArgs(ExternalTool tool, const std::vector<std::string>& raw_tests,
                                    const std::string& working_dir) {
  if (raw_tests.empty()) return {};
  // The readers write a '/' of a tool's name as '∕' (a top-level name holds no '/'): the
  // tool's filter needs its own name back.
  std::vector<std::string> tests = raw_tests;
  for (std::string& t : tests) {
    for (std::size_t at; (at = t.find("\u2215")) != std::string::npos;) t.replace(at, 3, "/");
  }
  std::string alternatives;
  for (const std::string& t : tests) {
    std::string_view name = t;
    // A test of a stream of several packages is named "<package>.<Test>": go's -run
    // matches the function's name (which holds no '.') in every package.
    if (tool == ExternalTool::kGo) name = name.substr(name.rfind('.') + 1);
    if (!alternatives.empty()) alternatives += '|';
    alternatives += EscapeRegex(name);
  }
  switch (tool) {
    case ExternalTool::kGo:
      return {"-test.run", "^(" + alternatives + ")$"};
    case ExternalTool::kNode:
      return {"--test-name-pattern=^(?:" + alternatives + ")$"};
    case ExternalTool::kPytest: {
      std::vector<std::string> ids;
      for (const std::string& t : tests) {
        std::optional<std::string> id = PytestNodeId(t, working_dir);
        if (!id) return {};  // cannot name it: run them all, and take only these
        ids.push_back(std::move(*id));
      }
      return ids;
    }
    case ExternalTool::kOther:
      break;
  }
  return {};
}

Result<std::vector<std::string>> PatternArgs(ExternalTool tool, const std::string& pattern) {
  switch (tool) {
    case ExternalTool::kGo: return std::vector<std::string>{"-test.run", pattern};
    case ExternalTool::kNode: return std::vector<std::string>{"--test-name-pattern=" + pattern};
    case ExternalTool::kPytest: return std::vector<std::string>{"-k", pattern};
    case ExternalTool::kOther: break;
  }
  return Error{ErrorCode::kInvalid,
               "--run (a filter) needs the tool of an external suite to be go, pytest or node; "
               "this suite's command cannot select tests"};
}

std::vector<std::string> WithArgs(ExternalTool tool, std::vector<std::string> command,
                                  const std::vector<std::string>& args) {
  if (args.empty()) return command;
  auto at = command.end();
  if (tool == ExternalTool::kNode) {
    auto test = std::find(command.begin(), command.end(), "--test");
    if (test != command.end()) at = test + 1;
  }
  command.insert(at, args.begin(), args.end());
  return command;
}

std::vector<std::string> ParseList(ExternalTool tool, std::string_view output) {
  std::vector<std::string> names;
  std::istringstream in{std::string(output)};
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      if (tool == ExternalTool::kPytest) break;  // the summary follows
      continue;
    }
    switch (tool) {
      case ExternalTool::kGo: {
        // go test -list prints the names, then "ok  <package> 0.01s".
        const bool ident = std::all_of(line.begin(), line.end(), [](unsigned char c) {
          return std::isalnum(c) != 0 || c == '_';
        });
        if (ident && (line.starts_with("Test") || line.starts_with("Example") ||
                      line.starts_with("Fuzz") || line.starts_with("Benchmark"))) {
          names.push_back(line);
        }
        break;
      }
      case ExternalTool::kPytest: {
        // "tests/test_cart.py::TestRefund::test_full[x]" -> the JUnit name.
        const std::size_t colons = line.find("::");
        if (colons == std::string::npos) break;
        std::string path = line.substr(0, colons);
        if (path.ends_with(".py")) path.resize(path.size() - 3);
        std::replace(path.begin(), path.end(), '/', '.');
        std::string rest = line.substr(colons + 2);
        for (std::size_t at; (at = rest.find("::")) != std::string::npos;) rest.replace(at, 2, ".");
        names.push_back(path + "." + rest);
        break;
      }
      case ExternalTool::kNode:
      case ExternalTool::kOther:
        names.push_back(line);
        break;
    }
  }
  return names;
}

Result<std::vector<std::string>> ListTests(const ExternalCommand& command) {
  if (command.list_command.empty()) return std::vector<std::string>{};
  wire::WorkerPlan plan;
  plan.external.emplace();
  plan.external->env.assign(command.env.begin(), command.env.end());
  Result<Child> child = Spawn(command.list_command, command.working_dir, Environment(plan, ""));
  if (!child.ok()) return child.error();
  std::string out;
  char buf[1 << 16];
  bool out_open = true, err_open = true;
  std::string err;
  // A listing that takes longer than this (go test -list compiles the package) is stopped.
  const auto deadline = Clock::now() + std::chrono::minutes(5);
  bool late = false;
  while (out_open || err_open) {
    if (Clock::now() >= deadline) {
      late = true;
      break;
    }
    pollfd p[2] = {{out_open ? child->out : -1, POLLIN, 0}, {err_open ? child->err : -1, POLLIN, 0}};
    if (::poll(p, 2, 100) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t n = ::read(p[i].fd, buf, sizeof buf);
      if (n <= 0) {
        if (n == 0 || errno != EINTR) (i == 0 ? out_open : err_open) = false;
        continue;
      }
      std::string& to = i == 0 ? out : err;
      if (to.size() < (16u << 20)) to.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(child->out);
  ::close(child->err);
  if (late) ::kill(-child->pid, SIGKILL);
  int status = 0;
  while (::waitpid(child->pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::kill(-child->pid, SIGKILL);  // what it left behind
  if (late) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("{} did not end within 5 minutes", Join(command.list_command))};
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string tail = err.size() > 2000 ? err.substr(err.size() - 2000) : err;
    while (!tail.empty() && tail.back() == '\n') tail.pop_back();
    return Error{ErrorCode::kInvalid, fmt::format("{} failed{}{}", Join(command.list_command),
                                                  tail.empty() ? "" : ": ", tail)};
  }
  return ParseList(command.tool, out);
}

void RunCommand(const wire::WorkerPlan& plan, EventSink& sink, const std::atomic<bool>& stop) {
  CommandRunner(plan, sink, stop).Run();
}

}  // namespace handoff::external
