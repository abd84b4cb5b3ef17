#pragma once

// RunRecorder turns the events of one served run into store writes: test rows, attempts
// with their output, and the run's journal (what the live stream sends). It is the store's
// EventSink in the fan-out of DESIGN.md. Writes are handed to the store's single writer;
// what they make visible (journal entries, finished tests) is passed on only after the
// commit, so nothing reports a result that a crash could still lose.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/commit_observer.h"
#include "engine/secret_params.h"
#include "event/event.h"
#include "store/store.h"

namespace handoff {

// Appends journal entries to a run with consecutive seq numbers; shared by everything that
// writes a run's journal (the engine for status changes, the recorder for tests).
class RunJournal {
 public:
  RunJournal(std::int64_t run_id, std::int64_t last_seq) : run_id_(run_id), last_seq_(last_seq) {}
  std::int64_t run_id() const { return run_id_; }
  // Returns the next entry, numbered.
  store::RunEvent Next(std::string type, std::string data);

 private:
  std::mutex mu_;
  std::int64_t run_id_;
  std::int64_t last_seq_;
};

// Returns a journal "run" entry's data: the run as the API shows it (without tests).
std::string RunEventData(const store::Run& run);

class RunRecorder : public EventSink {
 public:
  using CommitCallback = std::function<void(const Committed&)>;

  // `on_commit` runs on the store's writer thread after each commit. `mask` hides the
  // run's secret values in what its tests write, before anything is recorded.
  RunRecorder(store::Store& store, RunJournal& journal, CommitCallback on_commit,
              SecretMask mask = {});

  // Queues a run change (if `update` changes anything) with a journal entry showing
  // `run_after` and the notifications it sends (`deliveries`, the outbox: committed in the
  // same transaction), and sends everything pending to the store.
  void UpdateRun(const store::RunUpdate& update, const store::Run& run_after,
                 std::vector<store::Delivery> deliveries = {});

  // Decides the notifications of a top-level test that failed for good; they are committed
  // with the test's final state.
  using TestFailedDecider = std::function<std::vector<store::Delivery>(const store::TestRow&)>;
  void SetTestFailedDecider(TestFailedDecider decider) { test_failed_ = std::move(decider); }

  // Marks every test of `rows` still pending or running as cancelled with `reason` (a run
  // that was cancelled), in `rows` too, then flushes: they are committed, and reported,
  // as finished tests.
  void CancelUnfinished(std::vector<store::TestRow>& rows, const std::string& reason);

  // Writes `rows` again, with what the run's end decided of them (DecideTestChanges), in the
  // batch that commits the run's end (UpdateRun), each a new journal entry.
  void RewriteTests(const std::vector<store::TestRow>& rows);

  // From now on, events are ignored: the server is shutting down and the tests that are
  // still running will run again when the run resumes.
  void StopRecording();

  // On a shared store: every write of this recorder from now on commits only while the run
  // is leased with `lease_token` (store::WriteBatch::fences), so that a replica whose run
  // was taken over cannot overwrite what the new one records.
  void SetLease(std::int64_t lease_token);

  // The first failure of setup, "file.cc:12: message", or empty.
  const std::string& setup_error() const { return setup_error_; }
  // How many of this recorder's writes failed to commit so far (what they held is lost,
  // and nothing reported it). Read after store.Sync() to learn the fate of earlier writes.
  std::uint64_t failed_writes() const { return failed_writes_->load(); }

  // EventSink
  void OnEvent(const Event& event) override;
  void Flush() override;

 private:
  struct OpenAttempt {
    store::Attempt attempt;
    store::TestRow row;
    // Of a top-level test: its subtests that passed quietly in this attempt. The store
    // leaves them out (their rows show them); a retry must write them after all.
    std::vector<store::Attempt> quiet_subtests;
  };
  void Record(const Event& event);
  void FinishAttempt(OpenAttempt& open, Status status, std::int64_t elapsed_ns);
  void QueueTest(const store::TestRow& row);
  // Moves the pending test states into the batch, each with its journal entry. Called
  // with mu_ held.
  void MaterializeTests();
  void FlushLocked();

  store::Store& store_;
  RunJournal& journal_;
  CommitCallback on_commit_;
  const SecretMask mask_;
  TestFailedDecider test_failed_;
  std::mutex mu_;  // OnEvent comes from the run's thread, UpdateRun from others
  bool recording_ = true;
  std::int64_t lease_token_ = 0;  // 0: no fence
  store::WriteBatch batch_;
  // Test states changed since the last flush, latest state per test, in first-change
  // order: a test that starts and ends between two flushes is written (and journaled) once.
  std::vector<store::TestRow> pending_rows_;
  std::unordered_map<std::string, std::size_t> pending_index_;
  Committed pending_;
  std::unordered_map<std::string, OpenAttempt> open_;  // by test name
  store::Attempt suite_output_;                          // setup/teardown, test ""
  std::string setup_error_;
  // Shared with the commit callbacks, which may run after the recorder is gone.
  std::shared_ptr<std::atomic<std::uint64_t>> failed_writes_ =
      std::make_shared<std::atomic<std::uint64_t>>(0);
};

}  // namespace handoff
