#include "report/results.h"

#include <algorithm>
#include <string_view>

#include "report/attachment_files.h"

namespace handoff {
namespace {

// A log line or failure of an event, as printed in the test's output.
std::string LocatedLine(const Event& e) { return Located(e.text, e.file, e.line); }

}  // namespace

bool IsSubtestOf(std::string_view name, std::string_view parent) {
  return name.size() > parent.size() && name.substr(0, parent.size()) == parent &&
         name[parent.size()] == '/';
}

std::string_view CauseOf(const std::vector<FailureRecord>& failures) {
  for (const FailureRecord& f : failures) {
    if (!f.cause.empty()) return f.cause;
  }
  return {};
}

std::string_view AttemptRecord::Cause() const {
  if (std::string_view own = CauseOf(failures); !own.empty()) return own;
  for (const auto& [name, f] : subtest_failures) {
    if (!f.cause.empty()) return f.cause;
  }
  return {};
}

std::string TestResult::CancelReason() const {
  const std::string& reason =
      !skip_reason.empty() ? skip_reason
                           : (failures.empty() ? skip_reason : failures.front().message);
  if (reason.empty()) return "cancelled";
  if (reason.starts_with("cancelled")) return reason;
  return "cancelled: " + reason;
}

Totals CountTests(const RunResult& run) {
  Totals totals;
  for (const SuiteResult& suite : run.suites) {
    for (const TestResult& test : suite.tests) totals.Add(test.verdict());
  }
  return totals;
}

TestResult* ResultCollector::FindTest(SuiteResult& suite, const std::string& name) {
  auto& tests = open_tests_[suite.name];
  auto it = tests.find(name);
  return it == tests.end() ? nullptr : &suite.tests[it->second];
}

void ResultCollector::OnEvent(const Event& e) {
  if (e.kind == EventKind::kRunStarted) {
    result_.start_ns = e.time_ns;
    return;
  }
  if (e.kind == EventKind::kRunFinished) {
    // Suites the run left open (it was interrupted) end now, failed.
    while (!open_suites_.empty()) {
      Event end;
      end.kind = EventKind::kSuiteFinished;
      end.time_ns = e.time_ns;
      end.suite = open_suites_.begin()->first;
      end.status = Status::kFailed;
      end.elapsed_ns = e.time_ns - result_.suites[open_suites_.begin()->second].start_ns;
      OnEvent(end);
    }
    result_.elapsed_ns = e.elapsed_ns;
    result_.status = e.status;
    result_.stopped_early = e.text;
    return;
  }
  if (e.kind == EventKind::kSuiteStarted) {
    open_suites_[e.suite] = result_.suites.size();
    auto& open_tests = open_tests_[e.suite];
    open_tests.clear();
    SuiteResult& suite = result_.suites.emplace_back();
    if (auto expected = expected_.find(e.suite); expected != expected_.end()) {
      // Growing 10,000 records by doubling copies them and faults in fresh pages each time.
      suite.tests.reserve(expected->second);
      open_tests.reserve(expected->second);
    }
    suite.name = e.suite;
    suite.namespace_name = e.text;
    suite.start_ns = e.time_ns;
    return;
  }
  auto open = open_suites_.find(e.suite);
  if (open == open_suites_.end()) return;
  SuiteResult& suite = result_.suites[open->second];

  if (e.test.empty()) {
    // Suite-level: setup and teardown.
    switch (e.kind) {
      case EventKind::kSetupStarted:
        in_teardown_[e.suite] = false;
        break;
      case EventKind::kTeardownStarted:
        in_teardown_[e.suite] = true;
        break;
      case EventKind::kFailure: {
        FailureRecord f{e.text, e.file, e.line, e.key};
        // A failure belongs to the phase it arrives in (setup runs again in each worker
        // that a crash restarts). Without phase events: before any test, setup.
        auto phase = in_teardown_.find(e.suite);
        const bool teardown = phase != in_teardown_.end()
                                  ? phase->second
                                  : !suite.tests.empty() || !suite.teardown_failures.empty();
        (teardown ? suite.teardown_failures : suite.setup_failures).push_back(std::move(f));
        suite.output.push_back(LocatedLine(e));
        break;
      }
      case EventKind::kLog:
      case EventKind::kSkip:
        suite.output.push_back(LocatedLine(e));
        break;
      case EventKind::kOutput:
        suite.output.push_back(e.text);
        break;
      case EventKind::kSuiteFinished:
        suite.status = e.status;
        suite.elapsed_ns = e.elapsed_ns;
        // A test that never finished (the stream was cut) did not pass.
        for (TestResult& test : suite.tests) {
          if (!test.finished && test.status == Status::kPassed) test.status = Status::kFailed;
        }
        open_suites_.erase(open);
        open_tests_.erase(e.suite);
        in_teardown_.erase(e.suite);
        break;
      default:
        break;
    }
    return;
  }

  if (e.kind == EventKind::kTestStarted) {
    TestResult* existing = FindTest(suite, e.test);
    if (existing == nullptr) {
      open_tests_[suite.name][e.test] = suite.tests.size();
      TestResult& t = suite.tests.emplace_back();
      t.name = e.test;
      t.start_ns = e.time_ns;
      t.attempts = e.attempt;
      return;
    }
    // A retry: keep what the failed attempt reported, drop its subtests.
    AttemptRecord& earlier = existing->earlier_attempts.emplace_back();
    earlier.attempt = existing->attempts;
    earlier.elapsed_ns = existing->elapsed_ns;
    earlier.failures = std::move(existing->failures);
    earlier.output.assign(
        existing->output.begin() +
            static_cast<std::ptrdiff_t>(std::min(existing->final_output_begin,
                                                 existing->output.size())),
        existing->output.end());
    existing->failures.clear();
    existing->status = Status::kPassed;
    existing->skip_reason.clear();
    existing->values.clear();
    existing->spans.clear();
    existing->attempts = e.attempt;
    existing->output.push_back("=== RETRY attempt " + std::to_string(e.attempt));
    existing->final_output_begin = existing->output.size();
    const std::string parent = e.test;
    for (const TestResult& t : suite.tests) {
      if (!IsSubtestOf(t.name, parent)) continue;
      for (const FailureRecord& f : t.failures) earlier.subtest_failures.emplace_back(t.name, f);
    }
    auto& index = open_tests_[suite.name];
    std::erase_if(suite.tests, [&](const TestResult& t) { return IsSubtestOf(t.name, parent); });
    index.clear();
    for (std::size_t i = 0; i < suite.tests.size(); ++i) index[suite.tests[i].name] = i;
    return;
  }

  TestResult* t = FindTest(suite, e.test);
  if (t == nullptr) return;
  switch (e.kind) {
    case EventKind::kOutput:
      t->output.push_back(e.text);
      break;
    case EventKind::kLog:
      t->output.push_back(LocatedLine(e));
      break;
    case EventKind::kFailure:
      t->failures.push_back(FailureRecord{e.text, e.file, e.line, e.key});
      t->output.push_back(LocatedLine(e));
      break;
    case EventKind::kSkip:
      t->skip_reason = e.text;
      if (!e.text.empty()) t->output.push_back(LocatedLine(e));
      break;
    case EventKind::kValue:
      t->values.emplace_back(e.key, e.text);
      break;
    case EventKind::kAttachment:
      t->attachments.push_back(AttachmentRecord{
          e.attempt, e.key, e.file, e.text.size(),
          attachments_dir_.empty() ? std::string()
                                   : AttachmentPath(attachments_dir_, suite.name, e.test,
                                                    e.attempt, e.key)});
      break;
    case EventKind::kSpanStarted:
      t->spans.push_back(SpanRecord{e.span_id, e.key, e.time_ns, 0, {}});
      break;
    case EventKind::kSpanEnded:
      for (SpanRecord& span : t->spans) {
        if (span.id == e.span_id) {
          span.elapsed_ns = e.elapsed_ns;
          span.attributes = e.attributes;
        }
      }
      break;
    case EventKind::kAttemptFinished:
      t->status = e.status;
      t->elapsed_ns = e.elapsed_ns;
      break;
    case EventKind::kTestFinished: {
      t->status = e.status;
      t->elapsed_ns = e.elapsed_ns;
      t->soft = e.soft;
      t->flaky = e.flaky;
      t->finished = true;
      if (e.attempt > 0) t->attempts = e.attempt;
      if (e.test.find('/') != std::string::npos) break;
      // Subtests still open when their top-level test ends (the worker crashed inside
      // one) end with it: failed, unless the test as a whole was skipped.
      const std::size_t first = static_cast<std::size_t>(t - suite.tests.data()) + 1;
      for (std::size_t i = first; i < suite.tests.size(); ++i) {
        TestResult& sub = suite.tests[i];
        if (sub.finished || !IsSubtestOf(sub.name, t->name)) continue;
        sub.finished = true;
        sub.status = t->status == Status::kSkipped ? Status::kSkipped : Status::kFailed;
        sub.soft = t->soft;
        sub.attempts = t->attempts;
        sub.elapsed_ns = std::max<std::int64_t>(0, e.time_ns - sub.start_ns);
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace handoff
