#include "engine/stored_report.h"

#include <algorithm>
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

bool IsDone(store::TestStatus status) {
  return status != store::TestStatus::kPending && status != store::TestStatus::kRunning;
}

// Events that happened one after the other: one top-level test with its attempts and
// subtests, or the suite's setup and teardown.
using Stream = std::vector<Event>;

// Replays a stored run as the events `run` emitted: each stored line as the event it was,
// at its own time; each test's events in the order they happened; the suite's setup and
// teardown output where it happened among the tests (merged by time, since a worker runs
// one thing at a time).
class Replay {
 public:
  Replay(const store::Run& run, const std::vector<store::TestRow>& tests,
         const std::vector<store::Attempt>& attempts, EventSink& sink)
      : run_(run), sink_(sink) {
    for (const store::TestRow& row : tests) {
      rows_[row.name] = &row;
      order_.push_back(row.name);
    }
    for (const store::Attempt& a : attempts) by_test_[a.test].push_back(&a);
  }

  void Emit() {
    const store::Attempt* suite = SuiteAttempt();
    const std::int64_t run_start = run_.started_at_ns != 0 ? run_.started_at_ns : run_.created_at_ns;
    const std::int64_t suite_start =
        suite != nullptr && suite->started_at_ns != 0 ? suite->started_at_ns : run_start;

    std::vector<Stream> streams;
    streams.push_back(SuiteStream(suite));
    for (const std::string& name : order_) {
      if (!store::IsTopLevel(name)) continue;
      Stream stream = TopLevel(*rows_[name]);
      if (!stream.empty()) streams.push_back(std::move(stream));
    }

    Event e = Make(EventKind::kRunStarted, "", run_start);
    sink_.OnEvent(e);
    e = Make(EventKind::kSuiteStarted, "", suite_start);
    e.text = run_.namespace_name;
    sink_.OnEvent(e);
    const std::int64_t last = Merge(streams, suite_start);

    const bool failed = run_.status == store::RunStatus::kFailed;
    std::int64_t suite_end = suite != nullptr && suite->duration_ms > 0
                                 ? suite_start + suite->duration_ms * 1'000'000
                                 : run_.finished_at_ns;
    suite_end = std::max(suite_end, last);
    e = Make(EventKind::kSuiteFinished, "", suite_end);
    e.status = failed ? Status::kFailed : Status::kPassed;
    e.elapsed_ns = suite_end - suite_start;
    sink_.OnEvent(e);
    const std::int64_t run_end = std::max(run_.finished_at_ns, suite_end);
    e = Make(EventKind::kRunFinished, "", run_end);
    e.status = failed ? Status::kFailed : Status::kPassed;
    e.elapsed_ns = run_end - run_start;
    if (run_.status == store::RunStatus::kCancelled) e.text = "interrupted: " + run_.error;
    sink_.OnEvent(e);
  }

 private:
  Event Make(EventKind kind, const std::string& test, std::int64_t time_ns) const {
    Event e;
    e.kind = kind;
    e.suite = run_.suite;
    e.test = test;
    e.time_ns = time_ns;
    return e;
  }

  const store::Attempt* SuiteAttempt() const {
    auto it = by_test_.find("");
    return it == by_test_.end() || it->second.empty() ? nullptr : it->second.front();
  }

  const std::vector<const store::Attempt*>& AttemptsOf(const std::string& name) const {
    static const std::vector<const store::Attempt*> kNone;
    auto it = by_test_.find(name);
    return it == by_test_.end() ? kNone : it->second;
  }

  // Sends the streams' events to the sink, earliest first, each stream in its own order;
  // returns the time of the last one.
  std::int64_t Merge(std::vector<Stream>& streams, std::int64_t start) {
    // A stream's times only go forward: a duration kept in milliseconds may put an end a
    // little before the last line it closes.
    for (Stream& stream : streams) {
      std::int64_t floor = start;
      for (Event& e : stream) floor = e.time_ns = std::max(e.time_ns, floor);
    }
    std::vector<std::size_t> next(streams.size(), 0);
    std::int64_t last = start;
    while (true) {
      std::size_t pick = streams.size();
      for (std::size_t i = 0; i < streams.size(); ++i) {
        if (next[i] == streams[i].size()) continue;
        if (pick == streams.size() ||
            streams[i][next[i]].time_ns < streams[pick][next[pick]].time_ns) {
          pick = i;
        }
      }
      if (pick == streams.size()) return last;
      const Event& e = streams[pick][next[pick]++];
      last = e.time_ns;
      sink_.OnEvent(e);
    }
  }

  // The suite's setup and teardown: their phase markers and output.
  Stream SuiteStream(const store::Attempt* suite) const {
    Stream stream;
    if (suite == nullptr) return stream;
    for (const store::OutputLine& line : suite->lines) {
      Event e = Make(EventKind::kOutput, "", line.time_ns);
      switch (line.kind) {
        case store::LineKind::kSetupStarted:
          e.kind = EventKind::kSetupStarted;
          break;
        case store::LineKind::kSetupFinished:
          e.kind = EventKind::kSetupFinished;
          e.status = line.failed ? Status::kFailed : Status::kPassed;
          break;
        case store::LineKind::kTeardownStarted:
          e.kind = EventKind::kTeardownStarted;
          break;
        case store::LineKind::kTeardownFinished:
          e.kind = EventKind::kTeardownFinished;
          e.status = line.failed ? Status::kFailed : Status::kPassed;
          break;
        default:
          e = LineEvent(line, "", 0);
          break;
      }
      stream.push_back(std::move(e));
    }
    return stream;
  }

  Event LineEvent(const store::OutputLine& line, const std::string& test, int attempt) const {
    Event e = Make(EventKind::kOutput, test, line.time_ns);
    e.attempt = attempt;
    e.text = line.text;
    switch (line.kind) {
      case store::LineKind::kLog:
        e.kind = EventKind::kLog;
        break;
      case store::LineKind::kFailure:
        e.kind = EventKind::kFailure;
        e.key = line.key;
        e.soft = line.soft;
        break;
      case store::LineKind::kSkip:
        e.kind = EventKind::kSkip;
        break;
      default:
        return e;
    }
    e.file = line.file;
    e.line = line.line;
    return e;
  }

  Stream TopLevel(const store::TestRow& row) const {
    Stream stream;
    const auto& attempts = AttemptsOf(row.name);
    if (attempts.empty()) {
      // Never ran: pending (the run is not over), or skipped or cancelled when the run
      // stopped.
      if (row.status != store::TestStatus::kSkipped &&
          row.status != store::TestStatus::kCancelled) {
        return stream;
      }
      const std::int64_t when = row.started_at_ns != 0 ? row.started_at_ns : run_.finished_at_ns;
      Event e = Make(EventKind::kTestStarted, row.name, when);
      e.attempt = 1;
      stream.push_back(e);
      e.kind = EventKind::kSkip;
      e.text = row.message;
      stream.push_back(e);
      e.kind = EventKind::kTestFinished;
      e.text.clear();
      e.status = ToStatus(row.status);
      stream.push_back(e);
      return stream;
    }
    for (std::size_t i = 0; i < attempts.size(); ++i) {
      const store::Attempt& a = *attempts[i];
      Body(a, stream);
      Event done = Make(EventKind::kAttemptFinished, a.test,
                        a.started_at_ns + a.duration_ms * 1'000'000);
      done.attempt = a.attempt;
      done.status = ToStatus(a.status);
      done.elapsed_ns = a.duration_ms * 1'000'000;
      stream.push_back(done);
      if (i + 1 == attempts.size() && IsDone(row.status)) {
        Event finished = done;
        finished.kind = EventKind::kTestFinished;
        finished.status = ToStatus(row.status);
        finished.soft = row.soft_failure;
        finished.flaky = row.flaky;
        finished.elapsed_ns = row.duration_ms * 1'000'000;
        stream.push_back(finished);
      }
    }
    return stream;
  }

  // One attempt of a test or subtest up to its end: its start, then its lines with its
  // subtests (of the same attempt) where they ran among them, then its values and spans.
  void Body(const store::Attempt& a, Stream& stream) const {
    Event started = Make(EventKind::kTestStarted, a.test, a.started_at_ns);
    started.attempt = a.attempt;
    stream.push_back(started);

    std::vector<const store::Attempt*> children = Children(a.test, a.attempt);
    std::stable_sort(children.begin(), children.end(),
                     [](const store::Attempt* x, const store::Attempt* y) {
                       return x->started_at_ns < y->started_at_ns;
                     });
    std::size_t next_child = 0;
    for (const store::OutputLine& line : a.lines) {
      // A subtest that started before this line ran before it (a test runs its subtests
      // one at a time, and writes nothing while one runs).
      while (next_child < children.size() && children[next_child]->started_at_ns < line.time_ns) {
        Subtest(*children[next_child++], stream);
      }
      stream.push_back(LineEvent(line, a.test, a.attempt));
    }
    while (next_child < children.size()) Subtest(*children[next_child++], stream);

    for (const auto& [key, value] : a.values) {
      Event e = Make(EventKind::kValue, a.test, stream.back().time_ns);
      e.attempt = a.attempt;
      e.key = key;
      e.text = value;
      stream.push_back(std::move(e));
    }
    std::uint32_t span_id = 0;
    for (const store::Span& span : a.spans) {
      Event e = Make(EventKind::kSpanStarted, a.test, stream.back().time_ns);
      e.attempt = a.attempt;
      e.span_id = ++span_id;
      e.key = span.name;
      stream.push_back(e);
      e.kind = EventKind::kSpanEnded;
      e.elapsed_ns = span.elapsed_ns;
      e.attributes = span.attributes;
      stream.push_back(std::move(e));
    }
  }

  void Subtest(const store::Attempt& a, Stream& stream) const {
    Body(a, stream);
    if (!IsDone(a.status)) return;  // it never ended: its parent's end closes it
    Event finished = Make(EventKind::kTestFinished, a.test,
                          a.started_at_ns + a.duration_ms * 1'000'000);
    finished.attempt = a.attempt;
    finished.status = ToStatus(a.status);
    finished.soft = a.soft_failure;
    finished.elapsed_ns = a.duration_ms * 1'000'000;
    stream.push_back(std::move(finished));
  }

  // The attempts of `parent`'s direct subtests made in its attempt `attempt`, in the
  // order the subtests were first recorded.
  std::vector<const store::Attempt*> Children(const std::string& parent, int attempt) const {
    std::vector<const store::Attempt*> children;
    const std::string prefix = parent + "/";
    for (const std::string& name : order_) {
      if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
          name.find('/', prefix.size()) != std::string::npos) {
        continue;
      }
      for (const store::Attempt* a : AttemptsOf(name)) {
        if (a->attempt == attempt) children.push_back(a);
      }
    }
    return children;
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
