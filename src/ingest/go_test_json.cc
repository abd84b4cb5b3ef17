#include "ingest/go_test_json.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

namespace handoff::ingest {
namespace {

namespace json = boost::json;

std::string_view StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string_view(v->as_string());
}

// go test's own lines around a test's output, which handoff shows in its own way.
bool Framing(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  const std::string_view rest = line.substr(i);
  for (std::string_view prefix : {"=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "--- PASS:",
                                  "--- FAIL:", "--- SKIP:", "--- BENCH:"}) {
    if (rest.starts_with(prefix)) return true;
  }
  return false;
}

// A package's closing lines ("PASS", "FAIL", "ok  \tpkg\t0.1s", "FAIL\tpkg\t0.1s").
bool PackageSummary(std::string_view line) {
  return line == "PASS" || line == "FAIL" || line.starts_with("ok  \t") ||
         line.starts_with("FAIL\t") || line.starts_with("?   \t");
}

// The file and line of a t.Error/t.Log line ("    charge_test.go:12: declined").
bool FileLine(std::string_view line, std::string* file, int* number) {
  std::size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  const std::size_t go = line.find(".go:", i);
  if (go == std::string_view::npos || line.substr(i, go - i).find(' ') != std::string_view::npos) {
    return false;
  }
  std::size_t j = go + 4;
  int n = 0;
  const std::size_t digits = j;
  while (j < line.size() && std::isdigit(static_cast<unsigned char>(line[j])) && n < 10'000'000) {
    n = n * 10 + (line[j] - '0');
    ++j;
  }
  if (j == digits || j >= line.size() || line[j] != ':') return false;
  *file = std::string(line.substr(i, go + 3 - i));
  *number = n;
  return true;
}

std::string PackageName(std::string_view package) {
  std::string out(package);
  std::replace(out.begin(), out.end(), '/', '.');
  return out;
}

}  // namespace

int CountGoPackages(std::string_view stream) {
  std::set<std::string> packages;
  while (!stream.empty()) {
    const std::size_t nl = stream.find('\n');
    const std::string_view line = stream.substr(0, nl);
    stream.remove_prefix(nl == std::string_view::npos ? stream.size() : nl + 1);
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    if (std::string_view p = StringField(v.as_object(), "Package"); !p.empty()) {
      packages.emplace(p);
    }
  }
  return static_cast<int>(packages.size());
}

GoTestJsonReader::GoTestJsonReader(EventCallback emit, int attempt, bool qualify_with_package)
    : emit_(std::move(emit)), attempt_(attempt), qualify_(qualify_with_package) {}

std::string GoTestJsonReader::NameOf(std::string_view package, std::string_view test) const {
  if (!qualify_ || package.empty()) return std::string(test);
  return PackageName(package) + "." + std::string(test);
}

Event GoTestJsonReader::Make(EventKind kind, std::string test, std::int64_t time_ns) const {
  Event e;
  e.kind = kind;
  e.test = std::move(test);
  e.attempt = attempt_;
  e.time_ns = time_ns;
  return e;
}

Result<void> GoTestJsonReader::ReadLine(std::string_view line) {
  if (std::all_of(line.begin(), line.end(),
                  [](char c) { return c == ' ' || c == '\t' || c == '\r'; })) {
    return {};
  }
  boost::system::error_code ec;
  json::value v = json::parse(line, ec);
  if (ec) return Error{ErrorCode::kInvalid, "not JSON: " + ec.message()};
  if (!v.is_object()) return Error{ErrorCode::kInvalid, "not a JSON object"};
  const json::object& o = v.as_object();
  const std::string_view action = StringField(o, "Action");
  if (action.empty()) return Error{ErrorCode::kInvalid, "no \"Action\""};
  const std::string_view package = StringField(o, "Package");
  const std::string_view test = StringField(o, "Test");
  std::int64_t time_ns = NowNs();
  if (std::string_view t = StringField(o, "Time"); !t.empty()) {
    std::optional<std::int64_t> parsed = ParseRfc3339(t);
    if (!parsed) return Error{ErrorCode::kInvalid, fmt::format("\"Time\" {:?} is not an RFC 3339 time", std::string(t))};
    time_ns = *parsed;
  }
  std::int64_t elapsed_ns = 0;
  if (const json::value* el = o.if_contains("Elapsed")) {
    if (!el->is_number()) return Error{ErrorCode::kInvalid, "\"Elapsed\" is not a number"};
    const double seconds = el->to_number<double>();
    if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e9) {
      return Error{ErrorCode::kInvalid, "\"Elapsed\" is out of range"};
    }
    elapsed_ns = static_cast<std::int64_t>(seconds * 1e9);
  }
  std::string output;
  if (const json::value* out = o.if_contains("Output")) {
    if (!out->is_string()) return Error{ErrorCode::kInvalid, "\"Output\" is not a string"};
    output = std::string(out->as_string());
  }

  packages_seen_.emplace(package);
  if (test.empty()) {
    // The package's own events.
    if (action == "pass" || action == "fail" || action == "skip") packages_ended_.emplace(package);
    if (action == "output" || action == "build-output") {
      Output({}, package, output, time_ns);
    } else if (action == "fail" || action == "build-fail") {
      const std::string key(package.empty() ? StringField(o, "ImportPath") : package);
      if (package_failed_tests_.count(key) == 0) {
        failed_ = true;
        Event f = Make(EventKind::kFailure, {}, time_ns);
        std::vector<std::string>& lines = package_output_[key];
        std::string text = fmt::format("go test: package {} failed", key.empty() ? "?" : key);
        if (action == "build-fail") text = fmt::format("go test: package {} did not build", key);
        for (const std::string& l : lines) text += "\n" + l;
        f.text = std::move(text);
        emit_(std::move(f));
      }
    }
    return {};
  }

  const std::string name = NameOf(package, test);
  if (name.starts_with('/') || name.find("//") != std::string::npos || name.ends_with('/')) {
    return Error{ErrorCode::kInvalid, fmt::format("test name {:?} has an empty part", name)};
  }
  const std::size_t slash = name.rfind('/');
  const bool ends = action == "pass" || action == "fail" || action == "skip";
  if (slash != std::string::npos && (action == "run" || (ends && open_.count(name) == 0)) &&
      open_.count(name.substr(0, slash)) == 0) {
    return Error{ErrorCode::kInvalid,
                 fmt::format("subtest {:?} of a test that is not running", name)};
  }
  if (action == "run") {
    if (open_.count(name) != 0) return {};
    open_[name].started_ns = time_ns;
    emit_(Make(EventKind::kTestStarted, name, time_ns));
  } else if (action == "output") {
    Output(name, package, output, time_ns);
  } else if (ends) {
    if (action == "fail") package_failed_tests_.emplace(package);
    End(name, action == "pass" ? Status::kPassed
              : action == "fail" ? Status::kFailed
                                 : Status::kSkipped,
        elapsed_ns, time_ns);
  }
  // "pause", "cont", "bench", "start" and actions of later Go versions change nothing here.
  return {};
}

void GoTestJsonReader::Output(const std::string& name, std::string_view package,
                              std::string_view text, std::int64_t time_ns) {
  auto it = name.empty() ? open_.end() : open_.find(name);
  if (!name.empty() && it == open_.end()) {
    // Output of a test that has not started (or has ended): the package's.
    Output({}, package, text, time_ns);
    return;
  }
  std::string* partial = it != open_.end() ? &it->second.partial : nullptr;
  std::string pending;
  std::string& buffer = partial != nullptr ? *partial : pending;
  buffer.append(text);
  std::size_t start = 0;
  while (true) {
    const std::size_t nl = buffer.find('\n', start);
    if (nl == std::string::npos) break;
    std::string line = buffer.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    start = nl + 1;
    if (it == open_.end()) {
      if (!PackageSummary(line) && !Framing(line)) {
        package_output_[std::string(package)].push_back(line);
        Event e = Make(EventKind::kOutput, {}, time_ns);
        e.text = std::move(line);
        emit_(std::move(e));
      }
      continue;
    }
    if (Framing(line)) continue;
    it->second.output.push_back(line);
    Event e = Make(EventKind::kOutput, name, time_ns);
    e.text = std::move(line);
    emit_(std::move(e));
  }
  buffer.erase(0, start);
  if (partial == nullptr && !buffer.empty()) {
    // A package line without its end: shown as it is.
    Event e = Make(EventKind::kOutput, {}, time_ns);
    e.text = buffer;
    package_output_[std::string(package)].push_back(buffer);
    emit_(std::move(e));
  }
}

void GoTestJsonReader::End(const std::string& name, Status status, std::int64_t elapsed_ns,
                           std::int64_t time_ns, const std::string& why) {
  auto it = open_.find(name);
  if (it == open_.end()) {
    // Ended without a "run": started now, so that every surface has it whole.
    it = open_.emplace(name, Open{time_ns - elapsed_ns, {}, {}}).first;
    emit_(Make(EventKind::kTestStarted, name, it->second.started_ns));
  }
  Open open = std::move(it->second);
  open_.erase(it);
  if (!open.partial.empty() && !Framing(open.partial)) open.output.push_back(open.partial);
  // Subtests still open end with their parent (Go ends them first; a killed binary does not).
  const std::string prefix = name + "/";
  std::vector<std::string> children;
  for (const auto& [other, _] : open_) {
    if (other.starts_with(prefix)) children.push_back(other);
  }
  std::sort(children.rbegin(), children.rend());
  for (const std::string& child : children) {
    End(child, status == Status::kPassed ? Status::kFailed : status, 0, time_ns,
        why.empty() ? "the test ended before its subtest did" : why);
  }

  // The test's lines without the indentation go test gives them all (4 spaces a level).
  std::size_t indent = std::string::npos;
  for (const std::string& l : open.output) {
    const std::size_t i = l.find_first_not_of(' ');
    if (i != std::string::npos) indent = std::min(indent, i);
  }
  std::string message;
  std::string file;
  int line = 0;
  for (const std::string& l : open.output) {
    if (!message.empty()) message += '\n';
    message += indent != std::string::npos && l.size() >= indent ? l.substr(indent) : l;
    if (file.empty()) FileLine(l, &file, &line);
  }
  // The failure is located at its first line's "name_test.go:12: ", which it then does
  // not repeat ("Total = 3, want 4" at cart_test.go:12).
  if (!file.empty()) {
    const std::string at = file + ":" + std::to_string(line) + ": ";
    const std::size_t first = message.find_first_not_of(' ');
    if (first != std::string::npos && message.compare(first, at.size(), at) == 0) {
      message.erase(0, first + at.size());
    }
  }
  if (status == Status::kFailed) {
    failed_ = true;
    const bool subtest_failed = std::any_of(
        failed_names_.begin(), failed_names_.end(),
        [&](const std::string& failed_name) { return failed_name.starts_with(prefix); });
    if (!why.empty() || !message.empty() || !subtest_failed) {
      Event f = Make(EventKind::kFailure, name, time_ns);
      f.text = !why.empty() ? why : !message.empty() ? message : "go test reported the test failed";
      f.file = file;
      f.line = line;
      if (!why.empty() && !message.empty()) f.text += "\n" + message;
      emit_(std::move(f));
    }
    failed_names_.push_back(name);
  } else if (status == Status::kSkipped) {
    Event s = Make(EventKind::kSkip, name, time_ns);
    s.text = message;
    s.file = file;
    s.line = line;
    emit_(std::move(s));
  }
  if (elapsed_ns == 0 && open.started_ns > 0 && time_ns > open.started_ns) {
    elapsed_ns = time_ns - open.started_ns;
  }
  const bool top_level = name.find('/') == std::string::npos;
  if (top_level) {
    Event a = Make(EventKind::kAttemptFinished, name, time_ns);
    a.status = status;
    a.elapsed_ns = elapsed_ns;
    emit_(std::move(a));
    outcomes_[name] = status;
  }
  Event done = Make(EventKind::kTestFinished, name, time_ns);
  done.status = status;
  done.elapsed_ns = elapsed_ns;
  emit_(std::move(done));
}

std::vector<std::string> GoTestJsonReader::UnendedPackages() const {
  std::vector<std::string> out;
  for (const std::string& package : packages_seen_) {
    if (packages_ended_.count(package) == 0) out.push_back(package);
  }
  return out;
}

void GoTestJsonReader::Finish(const std::string& why) {
  // Parents before their subtests are ended by End; take the outermost first.
  while (!open_.empty()) {
    const std::string name = open_.begin()->first;  // shortest prefix sorts first
    End(name, Status::kFailed, 0, NowNs(),
        why.empty() ? "the report ended before the test did" : why);
  }
}

}  // namespace handoff::ingest
