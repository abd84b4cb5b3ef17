#include "ingest/junit_xml.h"

#include <expat.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace handoff::ingest {
namespace {

constexpr int kMaxDepth = 64;

// What a <failure>, <error>, <skipped> or a Surefire rerun element said.
struct Problem {
  std::string element;  // "failure", "error", "skipped", "flakyFailure", ...
  std::string message;
  std::string type;
  std::string text;
};

struct Case {
  std::string classname;
  std::string name;
  std::string file;
  int line = 0;
  std::int64_t elapsed_ns = 0;
  std::int64_t start_ns = 0;
  bool gtest_not_run = false;  // GoogleTest's status="notrun" (a disabled test)
  bool nameless = false;       // left out when it ends
  std::vector<Problem> problems;
  std::string out;  // <system-out> and <system-err>
};

struct Parse {
  XML_Parser parser = nullptr;
  std::string error;
  int depth = 0;
  bool root_seen = false;
  std::vector<std::string> stack;
  std::vector<Case> cases;
  std::vector<std::string> suite_output;
  std::vector<std::int64_t> suite_clock;  // per open <testsuite>: where its next case starts
  std::int64_t now_ns = 0;
  Case* current = nullptr;         // the open <testcase>
  Problem* problem = nullptr;      // the open problem element of it
  std::string* text = nullptr;     // where character data goes
  std::string suite_text;          // a <testsuite>'s <system-out>/<system-err>

  void Fail(std::string why) {
    if (error.empty()) {
      error = fmt::format("line {}: {}", XML_GetCurrentLineNumber(parser), why);
    }
    XML_StopParser(parser, XML_FALSE);
  }
};

std::string_view Attr(const XML_Char** attrs, std::string_view key) {
  for (int i = 0; attrs[i] != nullptr; i += 2) {
    if (key == attrs[i]) return attrs[i + 1];
  }
  return {};
}

// A testcase's `time`: seconds, possibly with a fraction ("0.012", "1,234.5" is refused).
std::optional<std::int64_t> Seconds(std::string_view text) {
  if (text.empty()) return 0;
  double seconds = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(seconds) ||
      seconds < 0 || seconds > 1e9) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(seconds * 1e9);
}

// a + b for times and durations that are not negative, at most the largest time.
std::int64_t SaturatingAdd(std::int64_t a, std::int64_t b) {
  return a > std::numeric_limits<std::int64_t>::max() - b ? std::numeric_limits<std::int64_t>::max()
                                                          : a + b;
}

// A testsuite's `timestamp`: RFC 3339, or ISO 8601 without an offset (UTC).
std::optional<std::int64_t> Timestamp(std::string_view text) {
  if (std::optional<std::int64_t> t = ParseRfc3339(text)) return t;
  return ParseRfc3339(std::string(text) + "Z");
}

bool IsProblem(std::string_view name) {
  return name == "failure" || name == "error" || name == "skipped" || name == "flakyFailure" ||
         name == "flakyError" || name == "rerunFailure" || name == "rerunError";
}

void XMLCALL OnStart(void* data, const XML_Char* name_c, const XML_Char** attrs) {
  auto* p = static_cast<Parse*>(data);
  const std::string_view name(name_c);
  if (++p->depth > kMaxDepth) return p->Fail(fmt::format("elements nested deeper than {}", kMaxDepth));
  if (!p->root_seen) {
    p->root_seen = true;
    if (name != "testsuites" && name != "testsuite") {
      return p->Fail(fmt::format("not a JUnit report: the root element is <{}>, not <testsuites> or <testsuite>", name));
    }
  }
  p->stack.emplace_back(name);
  p->text = nullptr;
  if (name == "testsuite") {
    std::int64_t start = p->suite_clock.empty() ? p->now_ns : p->suite_clock.back();
    if (std::string_view ts = Attr(attrs, "timestamp"); !ts.empty()) {
      if (std::optional<std::int64_t> t = Timestamp(ts)) start = *t;
    }
    p->suite_clock.push_back(start);
  } else if (name == "testcase") {
    if (p->current != nullptr) return p->Fail("a <testcase> inside a <testcase>");
    Case c;
    c.classname = std::string(Attr(attrs, "classname"));
    c.name = std::string(Attr(attrs, "name"));
    // pytest writes `<testcase time="0.000" />` for the test a ^C interrupted: no test
    // (refused when it ends if it holds a failure).
    c.nameless = c.name.empty();
    c.file = std::string(Attr(attrs, "file"));
    if (std::string_view l = Attr(attrs, "line"); !l.empty()) {
      int v = 0;
      const auto [end, ec] = std::from_chars(l.data(), l.data() + l.size(), v);
      if (ec == std::errc() && end == l.data() + l.size() && v > 0) c.line = v;
    }
    std::optional<std::int64_t> elapsed = Seconds(Attr(attrs, "time"));
    if (!elapsed) {
      return p->Fail(fmt::format("testcase \"{}\": time=\"{}\" is not a number of seconds", c.name,
                                 Attr(attrs, "time")));
    }
    c.elapsed_ns = *elapsed;
    c.gtest_not_run = Attr(attrs, "status") == "notrun";
    if (Attr(attrs, "result") == "skipped" || Attr(attrs, "result") == "suppressed") {
      c.problems.push_back(Problem{"skipped", {}, {}, {}});
    }
    std::int64_t& clock = p->suite_clock.empty() ? p->now_ns : p->suite_clock.back();
    c.start_ns = clock;
    clock = SaturatingAdd(clock, c.elapsed_ns);
    p->cases.push_back(std::move(c));
    p->current = &p->cases.back();
  } else if (p->current != nullptr && IsProblem(name) &&
             p->stack.size() >= 2 && p->stack[p->stack.size() - 2] == "testcase") {
    p->current->problems.push_back(Problem{std::string(name), std::string(Attr(attrs, "message")),
                                           std::string(Attr(attrs, "type")), {}});
    p->problem = &p->current->problems.back();
    p->text = &p->problem->text;
  } else if (p->problem != nullptr && (name == "stackTrace")) {
    p->text = &p->problem->text;
  } else if (name == "system-out" || name == "system-err") {
    if (p->current != nullptr) {
      if (p->problem == nullptr) p->text = &p->current->out;
    } else {
      p->text = &p->suite_text;
    }
  }
}

void XMLCALL OnEnd(void* data, const XML_Char* name_c) {
  auto* p = static_cast<Parse*>(data);
  const std::string_view name(name_c);
  --p->depth;
  if (!p->stack.empty()) p->stack.pop_back();
  p->text = nullptr;
  if (name == "testsuite") {
    if (!p->suite_text.empty()) {
      p->suite_output.push_back(std::move(p->suite_text));
      p->suite_text.clear();
    }
    if (!p->suite_clock.empty()) {
      const std::int64_t end = p->suite_clock.back();
      p->suite_clock.pop_back();
      if (!p->suite_clock.empty()) p->suite_clock.back() = std::max(p->suite_clock.back(), end);
    }
  } else if (name == "testcase") {
    if (p->current != nullptr && p->current->nameless) {
      // pytest's interrupted test holds nothing; a failure must have a test to belong to.
      if (!p->current->problems.empty()) return p->Fail("a <testcase> without a name");
      p->cases.pop_back();
    }
    p->current = nullptr;
    p->problem = nullptr;
  } else if (IsProblem(name) && p->problem != nullptr && p->stack.size() >= 1 &&
             p->stack.back() == "testcase") {
    p->problem = nullptr;
  } else if (p->problem != nullptr) {
    p->text = &p->problem->text;  // back in the problem element after a child of it
  }
}

void XMLCALL OnText(void* data, const XML_Char* s, int len) {
  auto* p = static_cast<Parse*>(data);
  if (p->text != nullptr) p->text->append(s, static_cast<std::size_t>(len));
}

void XMLCALL OnDoctype(void* data, const XML_Char*, const XML_Char*, const XML_Char*, int) {
  static_cast<Parse*>(data)->Fail("a DOCTYPE: JUnit reports have none, and none is read");
}

void XMLCALL OnEntity(void* data, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
                      const XML_Char*, const XML_Char*, const XML_Char*) {
  static_cast<Parse*>(data)->Fail("an entity declaration");
}

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string line(text.substr(0, nl));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
  while (!lines.empty() && lines.back().find_first_not_of(" \t") == std::string::npos) lines.pop_back();
  while (!lines.empty() && lines.front().find_first_not_of(" \t") == std::string::npos) {
    lines.erase(lines.begin());
  }
  return lines;
}

std::string Trimmed(std::string_view s) {
  const std::size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string_view::npos) return {};
  const std::size_t b = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(a, b - a + 1));
}

std::string FullName(const Case& c) {
  std::string classname = c.classname;
  std::replace(classname.begin(), classname.end(), '/', '.');
  return classname.empty() ? c.name : classname + "." + c.name;
}

// pytest names no file on a testcase; its traceback ends with the place of the failure,
// "tests/test_cart.py:18: AssertionError": a failure without a file gets that one.
void PlaceOfTraceback(std::string_view text, std::string* file, int* line) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  const std::size_t start = text.rfind('\n') + 1;  // npos + 1 == 0
  const std::string_view last = text.substr(start);
  const std::size_t colon = last.find(':');
  if (colon == 0 || colon == std::string_view::npos || last.substr(0, colon).find(' ') != std::string_view::npos) {
    return;
  }
  std::size_t end = colon + 1;
  int number = 0;
  while (end < last.size() && end - colon <= 9 && std::isdigit(static_cast<unsigned char>(last[end]))) {
    number = number * 10 + (last[end] - '0');
    ++end;
  }
  if (end == colon + 1 || end + 1 >= last.size() || last[end] != ':' || last[end + 1] != ' ' || number <= 0) {
    return;
  }
  *file = std::string(last.substr(0, colon));
  *line = number;
}

std::string ProblemText(const Problem& p) {
  const std::string message = Trimmed(p.message);
  const std::string body = Trimmed(p.text);
  std::string text = message;
  if (!body.empty() && body.find(message) != 0) text += (text.empty() ? "" : "\n") + body;
  if (text.empty() && message.empty()) text = body;
  if (text.empty()) text = p.type.empty() ? p.element : p.element + " (" + p.type + ")";
  return text;
}

}  // namespace

Result<void> ReadJUnitXml(std::string_view xml, std::int64_t now_ns, const EventCallback& emit) {
  Parse p;
  p.now_ns = now_ns;
  std::unique_ptr<XML_ParserStruct, decltype(&XML_ParserFree)> parser(XML_ParserCreate("UTF-8"),
                                                                      &XML_ParserFree);
  if (parser == nullptr) return Error{ErrorCode::kInternal, "cannot create an XML parser"};
  p.parser = parser.get();
  XML_SetUserData(p.parser, &p);
  XML_SetElementHandler(p.parser, &OnStart, &OnEnd);
  XML_SetCharacterDataHandler(p.parser, &OnText);
  XML_SetStartDoctypeDeclHandler(p.parser, &OnDoctype);
  XML_SetEntityDeclHandler(p.parser, &OnEntity);
  if (xml.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return Error{ErrorCode::kInvalid, "the report is larger than 2 GiB"};
  }
  if (XML_Parse(p.parser, xml.data(), static_cast<int>(xml.size()), XML_TRUE) == XML_STATUS_ERROR &&
      p.error.empty()) {
    p.error = fmt::format("line {}: {}", XML_GetCurrentLineNumber(p.parser),
                          XML_ErrorString(XML_GetErrorCode(p.parser)));
  }
  if (!p.error.empty()) return Error{ErrorCode::kInvalid, p.error};
  if (!p.root_seen) return Error{ErrorCode::kInvalid, "line 1: no XML element"};

  // Names, and which testcases are attempts of the same test.
  std::set<std::string> names;
  for (const Case& c : p.cases) names.insert(FullName(c));
  std::map<std::string, std::vector<const Case*>> attempts;
  std::vector<std::string> order;
  for (const Case& c : p.cases) {
    std::string name = FullName(c);
    std::vector<const Case*>& list = attempts[name];
    if (list.empty()) order.push_back(name);
    list.push_back(&c);
  }
  // A name's '/' is a subtest's only below another testcase; otherwise it is kept visible.
  std::function<std::string(const std::string&)> handoff_name = [&](const std::string& name) {
    const std::size_t slash = name.rfind('/');
    if (slash != std::string::npos && slash > 0 && slash + 1 < name.size() &&
        names.count(name.substr(0, slash)) != 0) {
      return handoff_name(name.substr(0, slash)) + name.substr(slash);
    }
    std::string out;
    for (char ch : name) out += ch == '/' ? std::string("\u2215") : std::string(1, ch);
    return out;
  };
  for (const std::string& text : p.suite_output) {
    for (std::string& line : Lines(text)) {
      Event e;
      e.kind = EventKind::kOutput;
      e.time_ns = now_ns;
      e.text = std::move(line);
      emit(std::move(e));
    }
  }
  // Top-level tests in report order, each with its subtests inside its last attempt.
  std::map<std::string, std::string> shown;  // report name -> handoff name
  for (const std::string& raw : order) shown[raw] = handoff_name(raw);
  std::set<std::string> emitted;
  std::function<void(const std::string&)> emit_test = [&](const std::string& raw) {
    if (!emitted.insert(raw).second) return;
    const std::string& name = shown[raw];
    const bool top_level = name.find('/') == std::string::npos;
    std::vector<std::string> children;
    for (const std::string& other : order) {
      const std::string& other_name = shown[other];
      if (other_name.size() > name.size() + 1 && other_name.starts_with(name + "/") &&
          other_name.find('/', name.size() + 1) == std::string::npos) {
        children.push_back(other);
      }
    }
    // Surefire writes the reruns inside the testcase: before its end, its attempts are the
    // flaky ones (failed, then the pass), or the first failure and its reruns.
    struct Attempt {
      const Case* c;
      Status status;
      std::vector<const Problem*> problems;
    };
    std::vector<Attempt> list;
    for (const Case* c : attempts[raw]) {
      std::vector<const Problem*> flaky, rerun, own;
      for (const Problem& pr : c->problems) {
        if (pr.element == "flakyFailure" || pr.element == "flakyError") flaky.push_back(&pr);
        else if (pr.element == "rerunFailure" || pr.element == "rerunError") rerun.push_back(&pr);
        else own.push_back(&pr);
      }
      for (const Problem* pr : flaky) list.push_back(Attempt{c, Status::kFailed, {pr}});
      Status status = Status::kPassed;
      for (const Problem* pr : own) {
        if (pr->element == "skipped" && status == Status::kPassed) status = Status::kSkipped;
        if (pr->element == "failure" || pr->element == "error") status = Status::kFailed;
      }
      if (c->gtest_not_run && status == Status::kPassed) status = Status::kSkipped;
      list.push_back(Attempt{c, status, own});
      for (const Problem* pr : rerun) list.push_back(Attempt{c, Status::kFailed, {pr}});
    }
    // A subtest runs once in its parent's attempt: its last testcase is its result, flaky if
    // one before it failed.
    bool failed_before = false;
    if (!top_level && list.size() > 1) {
      for (std::size_t i = 0; i + 1 < list.size(); ++i) {
        failed_before = failed_before || list[i].status == Status::kFailed;
      }
      list.erase(list.begin(), list.end() - 1);
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Attempt& a = list[i];
      const bool last = i + 1 == list.size();
      auto make = [&](EventKind kind) {
        Event e;
        e.kind = kind;
        e.test = name;
        e.attempt = top_level ? static_cast<int>(i) + 1 : 1;
        e.time_ns = a.c->start_ns;
        return e;
      };
      emit(make(EventKind::kTestStarted));
      for (std::string& line : Lines(a.c->out)) {
        Event o = make(EventKind::kOutput);
        o.text = std::move(line);
        emit(std::move(o));
      }
      for (const Problem* pr : a.problems) {
        if (pr->element == "skipped") {
          if (a.status != Status::kSkipped) continue;
          Event sk = make(EventKind::kSkip);
          sk.text = Trimmed(pr->message).empty() ? Trimmed(pr->text) : Trimmed(pr->message);
          emit(std::move(sk));
          continue;
        }
        Event f = make(EventKind::kFailure);
        f.text = ProblemText(*pr);
        f.file = a.c->file;
        f.line = a.c->line;
        if (f.file.empty()) PlaceOfTraceback(pr->text, &f.file, &f.line);
        // An <error> is what handoff's own JUnit writes for a crash or a timeout.
        if (pr->element == "error" || pr->element == "flakyError" || pr->element == "rerunError") {
          f.key = kCauseCrash;
        }
        emit(std::move(f));
      }
      if (a.status == Status::kFailed && a.problems.empty()) {
        Event f = make(EventKind::kFailure);
        f.text = "failed";
        emit(std::move(f));
      }
      if (last) {
        for (const std::string& child : children) emit_test(child);
      }
      Event end = make(EventKind::kAttemptFinished);
      end.status = a.status;
      end.elapsed_ns = a.c->elapsed_ns;
      end.time_ns = SaturatingAdd(a.c->start_ns, a.c->elapsed_ns);
      if (top_level) emit(end);
      if (last) {
        Event done = end;
        done.kind = EventKind::kTestFinished;
        done.flaky = failed_before && a.status == Status::kPassed;
        emit(std::move(done));
      }
      failed_before = failed_before || a.status == Status::kFailed;
    }
  };
  for (const std::string& raw : order) {
    // Subtests are emitted inside their parent.
    if (shown[raw].find('/') != std::string::npos) continue;
    emit_test(raw);
  }
  return {};
}

}  // namespace handoff::ingest
