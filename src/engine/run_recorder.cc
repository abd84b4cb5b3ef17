#include "engine/run_recorder.h"

#include <algorithm>
#include <utility>

#include "report/results.h"
#include "store/run_json.h"

namespace handoff {
namespace {

// A batch this large is sent without waiting for the stream to pause, to bound memory.
constexpr std::size_t kMaxPendingWrites = 2000;

store::TestStatus ToTestStatus(Status status) {
  switch (status) {
    case Status::kPassed:
      return store::TestStatus::kPassed;
    case Status::kFailed:
      return store::TestStatus::kFailed;
    case Status::kSkipped:
      return store::TestStatus::kSkipped;
    case Status::kCancelled:
      return store::TestStatus::kCancelled;
  }
  return store::TestStatus::kFailed;
}

std::int64_t Millis(std::int64_t ns) { return ns / 1'000'000; }

// Returns the line that records `e` (an output, log, failure or skip event).
store::OutputLine LineOf(const Event& e, store::LineKind kind) {
  return store::OutputLine{kind, e.time_ns, e.text, e.file, e.line, e.key, e.soft, false};
}

// Returns the phase marker that records `e` (setup or teardown started or finished).
store::OutputLine MarkerOf(const Event& e, store::LineKind kind) {
  store::OutputLine line;
  line.kind = kind;
  line.time_ns = e.time_ns;
  line.failed = e.status == Status::kFailed;
  return line;
}

std::string TestEventData(const store::TestRow& row) {
  std::string out;
  store::AppendTestRowJson(out, row);
  return out;
}

}  // namespace

store::RunEvent RunJournal::Next(std::string type, std::string data) {
  std::lock_guard lock(mu_);
  return store::RunEvent{++last_seq_, std::move(type), std::move(data)};
}

std::string RunEventData(const store::Run& run) {
  std::string out;
  store::AppendRunJson(out, run, nullptr);
  return out;
}

RunRecorder::RunRecorder(store::Store& store, RunJournal& journal, CommitCallback on_commit,
                         SecretMask mask)
    : store_(store), journal_(journal), on_commit_(std::move(on_commit)), mask_(std::move(mask)) {
  pending_.run_id = journal.run_id();
  suite_output_.attempt = 0;
}

void RunRecorder::UpdateRun(const store::RunUpdate& update, const store::Run& run_after,
                            std::vector<store::Delivery> deliveries) {
  std::lock_guard lock(mu_);
  if (!deliveries.empty()) {
    pending_.deliveries = true;
    for (store::Delivery& d : deliveries) batch_.deliveries.push_back(std::move(d));
  }
  // Test states first, so the journal shows them before the run's new state.
  MaterializeTests();
  if (update.status || update.started_at_ns || update.finished_at_ns || update.flaky ||
      update.resumed || update.error || update.values) {
    batch_.run_updates.push_back(update);
  }
  if (update.status && store::IsFinished(*update.status)) pending_.run_finished = true;
  pending_.run = run_after;
  store::RunEvent event = journal_.Next("run", RunEventData(run_after));
  batch_.events.emplace_back(journal_.run_id(), event);
  pending_.events.push_back(std::move(event));
  // A run's state change is shown at once: flush without waiting for the stream to pause.
  FlushLocked();
}

void RunRecorder::CancelUnfinished(std::vector<store::TestRow>& rows,
                                   const std::string& reason) {
  std::lock_guard lock(mu_);
  for (store::TestRow& row : rows) {
    if (store::IsFinal(row.status)) continue;
    row.status = store::TestStatus::kCancelled;
    row.message = reason;
    row.duration_ms = 0;
    QueueTest(row);
    pending_.finished.push_back(FinishedTest{row, {}, store::IsTopLevel(row.name)});
  }
  FlushLocked();
}

void RunRecorder::RewriteTests(const std::vector<store::TestRow>& rows) {
  std::lock_guard lock(mu_);
  for (const store::TestRow& row : rows) QueueTest(row);
}

void RunRecorder::StopRecording() {
  std::lock_guard lock(mu_);
  recording_ = false;
}

void RunRecorder::OnEvent(const Event& event) {
  bool flush = false;
  {
    std::lock_guard lock(mu_);
    if (!recording_) return;
    if (mask_.empty()) {
      Record(event);
    } else {
      // Everything a test writes is text (an attachment's bytes too) or attribute values;
      // names and files are ours.
      Event masked = event;
      mask_.Mask(masked.text);
      for (auto& [key, value] : masked.attributes) mask_.Mask(value);
      Record(masked);
    }
    // An attachment is written at once: megabytes are not held for a batch.
    flush = pending_rows_.size() + batch_.attempts.size() + batch_.events.size() >=
                kMaxPendingWrites ||
            event.kind == EventKind::kSuiteFinished || event.kind == EventKind::kAttachment;
  }
  if (flush) Flush();
}

void RunRecorder::Flush() {
  std::lock_guard lock(mu_);
  FlushLocked();
}

void RunRecorder::SetLease(std::int64_t lease_token) {
  std::lock_guard lock(mu_);
  lease_token_ = lease_token;
}

void RunRecorder::FlushLocked() {
  MaterializeTests();
  if (batch_.empty()) return;
  store::WriteBatch batch = std::exchange(batch_, {});
  if (lease_token_ != 0) batch.fences.emplace_back(journal_.run_id(), lease_token_);
  Committed committed = std::exchange(pending_, Committed{});
  pending_.run_id = journal_.run_id();
  store_.Write(std::move(batch), [cb = on_commit_, committed = std::move(committed),
                                  failed = failed_writes_](bool ok) {
    if (!ok) {
      failed->fetch_add(1);
    } else if (cb) {
      cb(committed);
    }
  });
}

void RunRecorder::QueueTest(const store::TestRow& row) {
  auto [it, inserted] = pending_index_.try_emplace(row.name, pending_rows_.size());
  if (inserted) {
    pending_rows_.push_back(row);
  } else {
    pending_rows_[it->second] = row;
  }
}

void RunRecorder::MaterializeTests() {
  for (store::TestRow& row : pending_rows_) {
    // The row is the journal entry: the store rebuilds the event from it.
    store::RunEvent event = journal_.Next("test", TestEventData(row));
    row.seq = event.seq;
    pending_.events.push_back(std::move(event));
    batch_.tests.emplace_back(journal_.run_id(), std::move(row));
  }
  pending_rows_.clear();
  pending_index_.clear();
}

void RunRecorder::FinishAttempt(OpenAttempt& open, Status status, std::int64_t elapsed_ns) {
  store::Attempt& a = open.attempt;
  a.status = ToTestStatus(status);
  a.duration_ms = Millis(elapsed_ns);
  // Spans that never ended (a crash) keep a zero length.
  for (store::Span& span : a.spans) {
    if (span.elapsed_ns < 0) span.elapsed_ns = 0;
  }
  batch_.attempts.emplace_back(journal_.run_id(), a);
}

void RunRecorder::Record(const Event& e) {
  if (e.test.empty()) {
    // Suite-level events: setup and teardown output, kept as the run's attempt "" with
    // the phases they belong to and the suite's start and length.
    std::vector<store::OutputLine>& lines = suite_output_.lines;
    switch (e.kind) {
      case EventKind::kSuiteStarted:
        suite_output_.started_at_ns = e.time_ns;
        break;
      case EventKind::kSetupStarted:
        if (suite_output_.started_at_ns == 0) suite_output_.started_at_ns = e.time_ns;
        lines.push_back(MarkerOf(e, store::LineKind::kSetupStarted));
        break;
      case EventKind::kSetupFinished:
        lines.push_back(MarkerOf(e, store::LineKind::kSetupFinished));
        break;
      case EventKind::kTeardownStarted:
        lines.push_back(MarkerOf(e, store::LineKind::kTeardownStarted));
        break;
      case EventKind::kTeardownFinished:
        lines.push_back(MarkerOf(e, store::LineKind::kTeardownFinished));
        break;
      case EventKind::kFailure:
        if (setup_error_.empty()) setup_error_ = Located(e.text, e.file, e.line);
        suite_output_.failures.push_back(store::Failure{e.text, e.file, e.line});
        lines.push_back(LineOf(e, store::LineKind::kFailure));
        break;
      case EventKind::kLog:
        lines.push_back(LineOf(e, store::LineKind::kLog));
        break;
      case EventKind::kSkip:
        lines.push_back(LineOf(e, store::LineKind::kSkip));
        break;
      case EventKind::kOutput:
        lines.push_back(LineOf(e, store::LineKind::kOutput));
        break;
      case EventKind::kSuiteFinished:
        // Phase markers alone are not worth a row: the replay needs them only around
        // output.
        if (std::any_of(lines.begin(), lines.end(), store::IsShownLine)) {
          suite_output_.status =
              suite_output_.failures.empty() ? store::TestStatus::kPassed : store::TestStatus::kFailed;
          suite_output_.duration_ms = Millis(e.elapsed_ns);
          batch_.attempts.emplace_back(journal_.run_id(), suite_output_);
        }
        break;
      default:
        break;
    }
    return;
  }

  if (e.kind == EventKind::kTestStarted) {
    OpenAttempt& open = open_[e.test];
    // A retry: the quiet subtests of the attempt before will not be their rows' latest.
    for (store::Attempt& quiet : open.quiet_subtests) {
      quiet.keep_quiet = true;
      batch_.attempts.emplace_back(journal_.run_id(), std::move(quiet));
    }
    open.quiet_subtests.clear();
    open.attempt = store::Attempt{};
    open.attempt.test = e.test;
    open.attempt.attempt = e.attempt;
    open.attempt.started_at_ns = e.time_ns;
    open.attempt.status = store::TestStatus::kRunning;
    open.attempt.trace_id = e.trace_id;
    open.row.name = e.test;
    open.row.trace_id = e.trace_id;
    open.row.status = store::TestStatus::kRunning;
    open.row.attempt = e.attempt;
    open.row.started_at_ns = e.time_ns;
    open.row.duration_ms = 0;
    open.row.message.clear();
    open.row.soft_failure = false;
    open.row.flaky = false;
    QueueTest(open.row);
    return;
  }

  auto it = open_.find(e.test);
  if (it == open_.end()) return;
  OpenAttempt& open = it->second;
  store::Attempt& a = open.attempt;
  switch (e.kind) {
    case EventKind::kOutput:
      a.lines.push_back(LineOf(e, store::LineKind::kOutput));
      break;
    case EventKind::kLog:
      a.lines.push_back(LineOf(e, store::LineKind::kLog));
      break;
    case EventKind::kFailure:
      a.failures.push_back(store::Failure{e.text, e.file, e.line});
      a.lines.push_back(LineOf(e, store::LineKind::kFailure));
      if (e.soft) a.soft_failure = true;
      break;
    case EventKind::kSkip:
      a.skip_reason = Located(e.text, e.file, e.line);
      a.lines.push_back(LineOf(e, store::LineKind::kSkip));
      break;
    case EventKind::kValue:
      a.values.emplace_back(e.key, e.text);
      break;
    case EventKind::kAttachment: {
      store::StoredAttachment attachment;
      attachment.info = store::AttachmentInfo{e.test, e.attempt, e.key, e.file,
                                              static_cast<std::int64_t>(e.text.size())};
      attachment.data = e.text;
      batch_.attachments.emplace_back(journal_.run_id(), std::move(attachment));
      break;
    }
    case EventKind::kSpanStarted:
      a.spans.push_back(store::Span{e.key, e.time_ns, 0, {}});
      // The id is kept in elapsed_ns until the span ends.
      a.spans.back().elapsed_ns = -static_cast<std::int64_t>(e.span_id);
      break;
    case EventKind::kSpanEnded:
      for (store::Span& span : a.spans) {
        if (span.elapsed_ns == -static_cast<std::int64_t>(e.span_id)) {
          span.elapsed_ns = e.elapsed_ns;
          span.attributes = e.attributes;
          break;
        }
      }
      break;
    case EventKind::kAttemptFinished:
      FinishAttempt(open, e.status, e.elapsed_ns);
      break;
    case EventKind::kTestFinished: {
      const bool top = store::IsTopLevel(e.test);
      if (!top) {
        FinishAttempt(open, e.status, e.elapsed_ns);
        if (a.status == store::TestStatus::kPassed && a.lines.empty() && a.values.empty() &&
            a.spans.empty() && !a.soft_failure) {
          auto parent = open_.find(e.test.substr(0, e.test.find('/')));
          if (parent != open_.end()) parent->second.quiet_subtests.push_back(a);
        }
      }
      store::TestRow& row = open.row;
      row.status = ToTestStatus(e.status);
      row.soft_failure = e.soft;
      row.flaky = e.flaky;
      row.duration_ms = Millis(e.elapsed_ns);
      if (e.status == Status::kCancelled && !a.skip_reason.empty()) {
        row.message = a.skip_reason;  // why it was cancelled, over what it did meanwhile
      } else if (!a.failures.empty()) {
        row.message = Located(a.failures.front().message, a.failures.front().file,
                              a.failures.front().line);
      } else if (e.status == Status::kSkipped || e.status == Status::kCancelled) {
        row.message = a.skip_reason;
      }
      QueueTest(row);
      if (top && test_failed_ && row.status == store::TestStatus::kFailed && !row.soft_failure) {
        std::vector<store::Delivery> deliveries = test_failed_(row);
        if (!deliveries.empty()) pending_.deliveries = true;
        for (store::Delivery& d : deliveries) batch_.deliveries.push_back(std::move(d));
      }
      pending_.finished.push_back(FinishedTest{row, a.values, top});
      open_.erase(it);
      break;
    }
    default:
      break;
  }
}

}  // namespace handoff
