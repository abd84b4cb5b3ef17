#include "engine/stored_report.h"

#include <cstdio>
#include <map>

#include "report/reporters.h"
#include "report/results.h"

namespace handoff {
namespace {

Status ToStatus(store::TestStatus status) {
  switch (status) {
    case store::TestStatus::kPassed:
      return Status::kPassed;
    case store::TestStatus::kSkipped:
      return Status::kSkipped;
    case store::TestStatus::kCancelled:
      return Status::kCancelled;
    default:
      return Status::kFailed;
  }
}

// Replays a stored run as the events `run` would have emitted.
class Replay {
 public:
  Replay(const store::Run& run, const std::vector<store::TestRow>& tests,
         const std::vector<store::Attempt>& attempts, EventSink& sink)
      : run_(run), sink_(sink) {
    for (const store::TestRow& row : tests) rows_[row.name] = &row;
    for (const store::Attempt& a : attempts) by_test_[a.test].push_back(&a);
    for (const store::TestRow& row : tests) order_.push_back(row.name);
  }

  void Emit() {
    Event e = Make(EventKind::kRunStarted, "");
    sink_.OnEvent(e);
    e = Make(EventKind::kSuiteStarted, "");
    e.text = run_.namespace_name;
    sink_.OnEvent(e);
    if (auto it = by_test_.find(""); it != by_test_.end()) {
      for (const store::Attempt* a : it->second) Lines(*a, "");
    }
    bool failed = run_.status == store::RunStatus::kFailed;
    for (const std::string& name : order_) {
      if (name.find('/') != std::string::npos) continue;
      TopLevel(*rows_[name]);
    }
    e = Make(EventKind::kSuiteFinished, "");
    e.status = failed ? Status::kFailed : Status::kPassed;
    e.elapsed_ns = Elapsed();
    sink_.OnEvent(e);
    e = Make(EventKind::kRunFinished, "");
    e.status = failed ? Status::kFailed : Status::kPassed;
    e.elapsed_ns = Elapsed();
    if (run_.status == store::RunStatus::kCancelled) e.text = "interrupted: " + run_.error;
    sink_.OnEvent(e);
  }

 private:
  std::int64_t Elapsed() const {
    return run_.finished_at_ns > run_.started_at_ns && run_.started_at_ns != 0
               ? run_.finished_at_ns - run_.started_at_ns
               : 0;
  }

  Event Make(EventKind kind, const std::string& test) const {
    Event e;
    e.kind = kind;
    e.suite = run_.suite;
    e.test = test;
    e.time_ns = run_.started_at_ns != 0 ? run_.started_at_ns : run_.created_at_ns;
    return e;
  }

  const std::vector<const store::Attempt*>& AttemptsOf(const std::string& name) {
    static const std::vector<const store::Attempt*> kNone;
    auto it = by_test_.find(name);
    return it == by_test_.end() ? kNone : it->second;
  }

  void TopLevel(const store::TestRow& row) {
    const auto& attempts = AttemptsOf(row.name);
    if (attempts.empty()) {
      // Never ran: pending (the run is not over) or skipped by a cancel.
      if (row.status != store::TestStatus::kSkipped) return;
      Event e = Make(EventKind::kTestStarted, row.name);
      e.attempt = 1;
      sink_.OnEvent(e);
      e.kind = EventKind::kSkip;
      e.text = row.message;
      sink_.OnEvent(e);
      e.kind = EventKind::kTestFinished;
      e.status = Status::kSkipped;
      sink_.OnEvent(e);
      return;
    }
    for (std::size_t i = 0; i < attempts.size(); ++i) {
      const store::Attempt& a = *attempts[i];
      Started(a);
      Lines(a, a.test);
      Children(a.test, a.attempt);
      Event done = Make(EventKind::kAttemptFinished, a.test);
      done.attempt = a.attempt;
      done.status = ToStatus(a.status);
      done.elapsed_ns = a.duration_ms * 1'000'000;
      done.time_ns = a.started_at_ns + done.elapsed_ns;
      sink_.OnEvent(done);
      if (i + 1 == attempts.size()) {
        if (row.status == store::TestStatus::kPending || row.status == store::TestStatus::kRunning) {
          return;  // still running: no final result yet
        }
        Event finished = done;
        finished.kind = EventKind::kTestFinished;
        finished.status = ToStatus(row.status);
        finished.soft = row.soft_failure;
        finished.flaky = row.flaky;
        finished.elapsed_ns = row.duration_ms * 1'000'000;
        sink_.OnEvent(finished);
      }
    }
  }

  // Subtests of `parent` in its attempt `attempt`, in the order they first ran.
  void Children(const std::string& parent, int attempt) {
    const std::string prefix = parent + "/";
    for (const std::string& name : order_) {
      if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
          name.find('/', prefix.size()) != std::string::npos) {
        continue;
      }
      for (const store::Attempt* a : AttemptsOf(name)) {
        if (a->attempt != attempt) continue;
        Started(*a);
        Lines(*a, a->test);
        Children(a->test, attempt);
        Event finished = Make(EventKind::kTestFinished, a->test);
        finished.attempt = attempt;
        finished.status = ToStatus(a->status);
        finished.soft = a->soft_failure;
        finished.elapsed_ns = a->duration_ms * 1'000'000;
        finished.time_ns = a->started_at_ns + finished.elapsed_ns;
        sink_.OnEvent(finished);
      }
    }
  }

  void Started(const store::Attempt& a) {
    Event e = Make(EventKind::kTestStarted, a.test);
    e.attempt = a.attempt;
    e.time_ns = a.started_at_ns;
    sink_.OnEvent(e);
  }

  // The attempt's output lines; those that were failures or the skip become those events
  // again, so reporters that treat them apart (JUnit) see them.
  void Lines(const store::Attempt& a, const std::string& test) {
    std::size_t next_failure = 0;
    bool skip_sent = false;
    for (const std::string& line : a.output) {
      Event e = Make(EventKind::kOutput, test);
      e.attempt = a.attempt;
      e.time_ns = a.started_at_ns;
      if (next_failure < a.failures.size() &&
          line == Located(a.failures[next_failure].message, a.failures[next_failure].file,
                          a.failures[next_failure].line)) {
        const store::Failure& f = a.failures[next_failure++];
        e.kind = EventKind::kFailure;
        e.text = f.message;
        e.file = f.file;
        e.line = f.line;
        e.soft = a.soft_failure;
      } else if (!skip_sent && !a.skip_reason.empty() && line == a.skip_reason) {
        skip_sent = true;
        e.kind = EventKind::kSkip;
        e.text = a.skip_reason;
      } else {
        e.text = line;
      }
      sink_.OnEvent(e);
    }
    for (; next_failure < a.failures.size(); ++next_failure) {
      const store::Failure& f = a.failures[next_failure];
      Event e = Make(EventKind::kFailure, test);
      e.attempt = a.attempt;
      e.text = f.message;
      e.file = f.file;
      e.line = f.line;
      sink_.OnEvent(e);
    }
    for (const auto& [key, value] : a.values) {
      Event e = Make(EventKind::kValue, test);
      e.key = key;
      e.text = value;
      sink_.OnEvent(e);
    }
    std::uint32_t span_id = 0;
    for (const store::Span& span : a.spans) {
      Event e = Make(EventKind::kSpanStarted, test);
      e.span_id = ++span_id;
      e.key = span.name;
      e.time_ns = span.start_ns;
      sink_.OnEvent(e);
      e.kind = EventKind::kSpanEnded;
      e.elapsed_ns = span.elapsed_ns;
      e.attributes = span.attributes;
      sink_.OnEvent(e);
    }
  }

  const store::Run& run_;
  EventSink& sink_;
  std::map<std::string, const store::TestRow*> rows_;
  std::map<std::string, std::vector<const store::Attempt*>> by_test_;
  std::vector<std::string> order_;
};

}  // namespace

bool RenderStoredReport(const store::Run& run, const std::vector<store::TestRow>& tests,
                        const std::vector<store::Attempt>& attempts, std::string_view format,
                        std::string* out) {
  if (format != "json" && format != "junit") return false;
  char* buffer = nullptr;
  std::size_t size = 0;
  std::FILE* file = ::open_memstream(&buffer, &size);
  if (file == nullptr) return false;
  {
    ResultCollector results;
    FanOut sinks;
    sinks.Add(&results);
    std::unique_ptr<EventSink> reporter = format == "json" ? MakeJsonReporter(file)
                                                           : MakeJunitReporter(file, results);
    sinks.Add(reporter.get());
    Replay(run, tests, attempts, sinks).Emit();
    sinks.Flush();
  }
  std::fclose(file);
  out->assign(buffer, size);
  std::free(buffer);
  return true;
}

}  // namespace handoff
