#include "ingest/tap.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

namespace handoff::ingest {
namespace {

int IndentOf(std::string_view line) {
  int n = 0;
  for (char c : line) {
    if (c == ' ') ++n;
    else if (c == '\t') n += 4;
    else break;
  }
  return n;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// A leaf name as a part of a handoff name: no '/', which separates subtests.
std::string Leaf(std::string_view name) {
  std::string out;
  for (char c : name) out += c == '/' ? std::string("\u2215") : std::string(1, c);
  return out;
}

std::string Unquote(std::string_view v) {
  v = Trim(v);
  if (v.size() >= 2 && ((v.front() == '\'' && v.back() == '\'') || (v.front() == '"' && v.back() == '"'))) {
    std::string out;
    const char q = v.front();
    for (std::size_t i = 1; i + 1 < v.size(); ++i) {
      if (q == '\'' && v[i] == '\'' && i + 2 < v.size() && v[i + 1] == '\'') {
        out += '\'';
        ++i;
      } else if (q == '"' && v[i] == '\\' && i + 2 < v.size()) {
        const char e = v[++i];
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
      } else {
        out += v[i];
      }
    }
    return out;
  }
  return std::string(v);
}

// The top-level keys of a test point's YAML block: plain or quoted scalars, and block
// scalars (`key: |-` and its more indented lines).
std::map<std::string, std::string> ReadYaml(const std::vector<std::string>& lines) {
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.empty() || line[0] == ' ' || line[0] == '#') continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key(Trim(std::string_view(line).substr(0, colon)));
    const std::string_view value = Trim(std::string_view(line).substr(colon + 1));
    if (value == "|" || value == "|-" || value == ">" || value == ">-" || value.empty()) {
      std::vector<std::string> block;
      std::size_t common = std::string::npos;
      while (i + 1 < lines.size() && (lines[i + 1].empty() || lines[i + 1][0] == ' ')) {
        block.push_back(lines[++i]);
        const std::size_t first = block.back().find_first_not_of(' ');
        if (first != std::string::npos) common = std::min(common, first);
      }
      // Trailing blank lines are not part of the value (Node ends its `error: |-` with one).
      while (!block.empty() && block.back().find_first_not_of(' ') == std::string::npos) {
        block.pop_back();
      }
      std::string text;
      for (const std::string& b : block) {
        if (!text.empty()) text += value.starts_with('>') ? ' ' : '\n';
        text += common != std::string::npos && b.size() >= common ? b.substr(common) : b;
      }
      out[key] = text;
    } else {
      out[key] = Unquote(value);
    }
  }
  return out;
}

// "file:line:column", "file:line", or a file URL of either: the file and the line.
void Location(std::string_view text, std::string* file, int* line) {
  if (text.starts_with("file://")) text.remove_prefix(7);
  std::size_t end = text.size();
  for (int part = 0; part < 2; ++part) {
    const std::size_t colon = text.rfind(':', end - 1);
    if (colon == std::string_view::npos || colon == 0) return;
    int value = 0;
    const std::string_view digits = text.substr(colon + 1, end - colon - 1);
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || ptr != digits.data() + digits.size()) {
      if (part == 0) return;
      break;
    }
    *line = value;
    *file = std::string(text.substr(0, colon));
    end = colon;
    if (part == 0) {
      // "file:line:column": keep going for the line.
      const std::size_t before = text.rfind(':', colon - 1);
      if (before == std::string_view::npos) return;
      const std::string_view l = text.substr(before + 1, colon - before - 1);
      int v = 0;
      const auto [p2, e2] = std::from_chars(l.data(), l.data() + l.size(), v);
      if (e2 == std::errc() && p2 == l.data() + l.size()) {
        *line = v;
        *file = std::string(text.substr(0, before));
      }
      return;
    }
  }
}

}  // namespace

TapReader::TapReader(EventCallback emit, int attempt) : emit_(std::move(emit)), attempt_(attempt) {
  levels_.push_back(Level{});
}

Event TapReader::Make(EventKind kind, std::string test) const {
  Event e;
  e.kind = kind;
  e.test = std::move(test);
  e.attempt = attempt_;
  e.time_ns = NowNs();
  return e;
}

// The innermost test still running that was announced ("# Subtest:") at a level above
// `depth`, or empty. Only running tests: an announcement may have been ended since, by its
// own test point, by its parent's, or announced twice.
std::string TapReader::OpenAbove(std::size_t depth) const {
  for (std::size_t i = std::min(depth, levels_.size()); i-- > 0;) {
    const std::vector<std::string>& announced = levels_[i].announced;
    for (auto it = announced.rbegin(); it != announced.rend(); ++it) {
      if (started_.count(*it) != 0) return *it;
    }
  }
  return {};
}

// The full name of `leaf` at subtest depth `depth`: below the test running above it.
std::string TapReader::Qualified(const std::string& leaf, std::size_t depth) const {
  const std::string parent = OpenAbove(depth);
  return parent.empty() ? leaf : parent + "/" + leaf;
}

void TapReader::Started(const std::string& full) {
  if (started_.count(full) != 0) return;
  started_[full] = NowNs();
  emit_(Make(EventKind::kTestStarted, full));
}

void TapReader::CloseLevelsBelow(int indent) {
  while (levels_.size() > 1 && levels_.back().indent > indent) {
    const Level& level = levels_.back();
    if (level.plan && level.points < *level.plan) {
      Event f = Make(EventKind::kFailure, {});
      f.text = fmt::format("TAP: the plan promised {} tests and {} ran", *level.plan, level.points);
      failed_ = true;
      emit_(std::move(f));
    }
    levels_.pop_back();
  }
}

void TapReader::EndPoint() {
  if (!point_) return;
  Point point = std::move(*point_);
  point_.reset();
  in_yaml_ = false;
  std::size_t depth = 0;
  while (depth + 1 < levels_.size() && levels_[depth + 1].indent <= point.indent) ++depth;
  // The point ends the test "# Subtest:" announced at its level, if that is its name.
  Level& level = levels_[depth];
  ++level.points;
  const std::string full = Qualified(point.name, depth);
  Started(full);
  // Its subtests still open end with it.
  const std::string below = full + "/";
  std::vector<std::string> open;
  for (const auto& [name, _] : started_) {
    if (name.starts_with(below)) open.push_back(name);
  }
  std::sort(open.rbegin(), open.rend());
  for (const std::string& child : open) {
    emit_([&] {
      Event f = Make(EventKind::kFailure, child);
      f.text = "TAP: the test ended before its subtest did";
      return f;
    }());
    Event done = Make(EventKind::kTestFinished, child);
    done.status = Status::kFailed;
    emit_(std::move(done));
    started_.erase(child);
  }
  level.announced.erase(std::remove(level.announced.begin(), level.announced.end(), full),
                        level.announced.end());

  const std::map<std::string, std::string> yaml = ReadYaml(point.yaml);
  std::string file;
  int line = 0;
  if (auto it = yaml.find("location"); it != yaml.end()) Location(it->second, &file, &line);
  if (auto it = yaml.find("at"); it != yaml.end() && file.empty()) Location(it->second, &file, &line);
  bool soft = false;
  if (point.status == Status::kFailed) {
    Event f = Make(EventKind::kFailure, full);
    std::string text;
    for (const char* key : {"error", "message"}) {
      if (auto it = yaml.find(key); it != yaml.end() && !it->second.empty()) {
        text = it->second;
        break;
      }
    }
    if (auto it = yaml.find("stack"); it != yaml.end() && !it->second.empty()) {
      text += (text.empty() ? "" : "\n") + it->second;
    }
    if (text.empty()) {
      for (const std::string& l : point.yaml) text += (text.empty() ? "" : "\n") + l;
    }
    if (text.empty()) text = "not ok";
    if (!point.directive.empty()) {
      // `not ok ... # TODO`: a known failure, which does not fail the run.
      soft = true;
      text = "TODO " + point.directive + (text == "not ok" ? "" : "\n" + text);
    } else {
      failed_ = true;
    }
    f.text = std::move(text);
    f.file = file;
    f.line = line;
    f.soft = soft;
    emit_(std::move(f));
  } else if (point.status == Status::kSkipped) {
    Event s = Make(EventKind::kSkip, full);
    s.text = point.directive;
    emit_(std::move(s));
  }
  std::int64_t elapsed_ns = NowNs() - started_[full];
  if (auto it = yaml.find("duration_ms"); it != yaml.end()) {
    double ms = 0;
    const std::string& v = it->second;
    const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
    if (ec == std::errc() && ptr == v.data() + v.size() && std::isfinite(ms) && ms >= 0 && ms < 1e12) {
      elapsed_ns = static_cast<std::int64_t>(ms * 1e6);
    }
  }
  started_.erase(full);
  const bool top_level = full.find('/') == std::string::npos;
  if (top_level) {
    Event a = Make(EventKind::kAttemptFinished, full);
    a.status = point.status;
    a.elapsed_ns = elapsed_ns;
    a.soft = soft;
    emit_(std::move(a));
    outcomes_[full] = point.status;
  }
  Event done = Make(EventKind::kTestFinished, full);
  done.status = point.status;
  done.elapsed_ns = elapsed_ns;
  done.soft = soft;
  emit_(std::move(done));
}

Result<void> TapReader::ReadLine(std::string_view raw) {
  ++line_number_;
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  const int indent = IndentOf(raw);
  const std::string_view line = Trim(raw);
  if (point_) {
    if (in_yaml_) {
      if (line == "..." && indent <= point_->indent + 2) {
        EndPoint();
        return {};
      }
      if (line.empty() || indent >= point_->indent + 2) {
        point_->yaml.emplace_back(raw.size() >= static_cast<std::size_t>(point_->indent + 2)
                                      ? raw.substr(static_cast<std::size_t>(point_->indent + 2))
                                      : std::string_view());
        return {};
      }
      EndPoint();
    } else if (line == "---" && indent > point_->indent) {
      in_yaml_ = true;
      return {};
    } else {
      EndPoint();
    }
  }
  if (line.empty()) return {};
  // The level of this line: a deeper indent opens a subtest level, a shallower one closes.
  if (indent > levels_.back().indent) {
    levels_.push_back(Level{indent, {}, {}, 0, {}});
  } else {
    CloseLevelsBelow(indent);
  }
  const std::size_t depth = levels_.size() - 1;

  if (StartsWithNoCase(line, "tap version") || StartsWithNoCase(line, "pragma ")) return {};
  if (line.starts_with("Bail out!")) {
    failed_ = true;
    Event f = Make(EventKind::kFailure, {});
    f.text = "TAP: " + std::string(line);
    emit_(std::move(f));
    return {};
  }
  if (line.starts_with("# Subtest:")) {
    // Node escapes a '#' of the name here as on the test point: "issue \#12".
    std::string name(Trim(line.substr(10)));
    for (std::size_t at; (at = name.find("\\#")) != std::string::npos;) name.erase(at, 1);
    const std::string leaf = Leaf(name);
    if (leaf.empty()) return Error{ErrorCode::kInvalid, "\"# Subtest:\" without a name"};
    const std::string full = Qualified(leaf, depth);
    if (started_.count(full) == 0) {
      levels_[depth].announced.push_back(full);
      Started(full);
    }
    return {};
  }
  if (line.size() > 3 && line.starts_with("1..")) {
    int planned = 0;
    const std::string_view digits = Trim(line.substr(3, line.find('#') == std::string_view::npos
                                                            ? std::string_view::npos
                                                            : line.find('#') - 3));
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), planned);
    if (ec == std::errc() && ptr == digits.data() + digits.size() && planned >= 0) {
      levels_[depth].plan = planned;
      return {};
    }
  }
  const bool ok = line.starts_with("ok") && (line.size() == 2 || line[2] == ' ');
  const bool not_ok = line.starts_with("not ok") && (line.size() == 6 || line[6] == ' ');
  if (ok || not_ok) {
    std::string_view rest = Trim(line.substr(ok ? 2 : 6));
    std::string number;
    while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front()))) {
      number += rest.front();
      rest.remove_prefix(1);
    }
    rest = Trim(rest);
    if (rest.starts_with("- ")) rest = Trim(rest.substr(2));
    else if (rest == "-") rest = {};
    // The directive follows an unescaped '#'.
    std::string description;
    std::string directive;
    Status status = ok ? Status::kPassed : Status::kFailed;
    for (std::size_t i = 0; i < rest.size(); ++i) {
      if (rest[i] == '\\' && i + 1 < rest.size() && rest[i + 1] == '#') {
        description += '#';
        ++i;
      } else if (rest[i] == '#') {
        const std::string_view d = Trim(rest.substr(i + 1));
        if (StartsWithNoCase(d, "skip")) {
          status = Status::kSkipped;
          directive = std::string(Trim(d.substr(std::min<std::size_t>(d.size(), d.find_first_of(" \t") == std::string_view::npos ? d.size() : d.find_first_of(" \t")))));
          if (directive.empty()) directive = "skipped";
        } else if (StartsWithNoCase(d, "todo")) {
          directive = std::string(Trim(d.substr(4)));
          if (directive.empty()) directive = "todo";
          if (!not_ok) directive.clear();  // a TODO that passes is a pass
        }
        break;
      } else {
        description += rest[i];
      }
    }
    std::string name = Leaf(Trim(description));
    if (name.empty()) name = number.empty() ? fmt::format("test {}", levels_[depth].points + 1) : "test " + number;
    point_ = Point{std::move(name), status, std::move(directive), indent, {}};
    return {};
  }
  // Anything else is output: of the innermost test announced here and running, or of the
  // suite.
  const std::string owner = OpenAbove(depth + 1);
  Event o = Make(EventKind::kOutput, owner);
  o.text = std::string(line.starts_with("# ") ? line.substr(2) : line);
  emit_(std::move(o));
  return {};
}

std::vector<std::string> TapReader::OpenTests() const {
  std::vector<std::string> out;
  for (const auto& [name, since] : started_) out.push_back(name);
  return out;
}

void TapReader::Finish(const std::string& why) {
  if (point_) EndPoint();
  CloseLevelsBelow(-1);
  if (levels_[0].plan && levels_[0].points < *levels_[0].plan) {
    Event f = Make(EventKind::kFailure, {});
    f.text = fmt::format("TAP: the plan promised {} tests and {} ran", *levels_[0].plan,
                         levels_[0].points);
    failed_ = true;
    emit_(std::move(f));
  }
  // Tests announced and never ended: outermost first, each ending its own subtests.
  while (!started_.empty()) {
    const std::string name = started_.begin()->first;
    const std::int64_t since = started_.begin()->second;
    std::vector<std::string> chain;
    for (const auto& [other, _] : started_) {
      if (other == name || other.starts_with(name + "/")) chain.push_back(other);
    }
    std::sort(chain.rbegin(), chain.rend());
    for (const std::string& t : chain) {
      Event f = Make(EventKind::kFailure, t);
      f.text = why.empty() ? "the report ended before the test did" : why;
      failed_ = true;
      emit_(std::move(f));
      const bool top = t.find('/') == std::string::npos;
      if (top) {
        Event a = Make(EventKind::kAttemptFinished, t);
        a.status = Status::kFailed;
        a.elapsed_ns = NowNs() - since;
        emit_(std::move(a));
        outcomes_[t] = Status::kFailed;
      }
      Event done = Make(EventKind::kTestFinished, t);
      done.status = Status::kFailed;
      done.elapsed_ns = NowNs() - since;
      emit_(std::move(done));
      started_.erase(t);
    }
  }
}

}  // namespace handoff::ingest
