#pragma once

// The store keeps every run of `serve`: runs, their tests, every attempt with its output,
// the run's event journal (what the live stream replays) and the schedules created over
// the API. The engine and the HTTP layer know it only through this interface; nothing
// outside src/store speaks SQL. OpenStore (store/open_store.h) opens a backend by the
// scheme of its URL; the logic every backend shares (list encodings, quiet attempts, the
// journal, planned tests) lives in files of its own beside this one.
//
// Error policy (docs/internals.md, "Errors"): an operation that can fail for a reason its
// caller must handle returns a Result (base/result.h): OpenStore, CreateRun, the schedule
// writes, Backup and ProbeWrite. Its ErrorCode says which failure it is: kConflict (a schedule's name
// is taken), kNotFound (no such schedule), kUnavailable (the database cannot write now:
// the server answers 503), kInvalid / kUnsupported / kCorrupt (a URL or database that
// cannot be served, at open). Reads return values (nullopt or empty when a row does not
// exist, or when the database cannot be read, which is logged). Batched writes report
// through their completion callback (ok false: not committed); ProbeWrite tells whether
// writes commit again (kUnavailable while they do not). Every failure after open is also logged through the opener's
// StoreLog: a store never prints, its opener decides the log's format.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/result.h"
#include "event/hold.h"
#include "event/outcome.h"

namespace handoff::store {

// The state of a run. queued -> running -> passed | failed | cancelled | error. A run
// started with hold_on_failure goes from running to held while its failed test is held
// (issue 21), and back to running when the hold ends; held is unfinished, like running.
enum class RunStatus : std::uint8_t { kQueued, kRunning, kPassed, kFailed, kCancelled, kError, kHeld };

// The state of one test in a run: pending or running, then its outcome (event/outcome.h).
enum class TestStatus : std::uint8_t { kPending, kRunning, kPassed, kFailed, kSkipped, kCancelled };

// What started a run.
// kIngest: a report produced elsewhere (a CI job's go test -json or JUnit XML), stored as a
// run (POST /api/v1/suites/{suite}/ingest).
enum class Trigger : std::uint8_t { kApi, kSchedule, kUi, kRetry, kCli, kIngest };

// How serious a line of the store's log is.
enum class LogLevel : std::uint8_t { kInfo, kWarn, kError };

// Where a store writes what its callers cannot see (a write that failed, a corrupt stored
// value, a new database initialised): `message` says what happened, `detail` why.
using StoreLog =
    std::function<void(LogLevel level, std::string_view message, std::string_view detail)>;

// What a backup wrote (Store::Backup).
struct BackupInfo {
  std::string path;             // the file written
  std::int64_t bytes = 0;       // its size
  std::int64_t pages = 0;       // database pages copied
  std::int64_t duration_ms = 0;
};

// Lower-case names used in JSON and SQL ("queued", "pending", "api"), and their inverse
// (false when the name is unknown).
const char* RunStatusName(RunStatus status);
const char* TestStatusName(TestStatus status);
const char* TriggerName(Trigger trigger);
bool ParseRunStatus(std::string_view name, RunStatus* out);
bool ParseTestStatus(std::string_view name, TestStatus* out);
bool ParseTrigger(std::string_view name, Trigger* out);

// Returns true for passed, failed, cancelled and error.
bool IsFinished(RunStatus status);

// A run's hold (hold on failure, issue 21): the test held before its cleanups, what it kept
// open, and when and how the hold ended.
struct RunHold {
  std::string test;
  int attempt = 0;
  Hold hold;                       // pid, temp dirs, runnables (event/hold.h)
  std::int64_t held_at_ns = 0;
  std::int64_t release_at_ns = 0;  // when --max-hold ends it
  std::int64_t released_at_ns = 0; // 0 while held
  std::string ended;               // HoldEndName ("released", "timed_out", "cancelled"); "" while held
  bool operator==(const RunHold&) const = default;
};

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// How a finished run's tests ended: every test row, top-level tests and subtests alike,
// added up from their verdicts (event/outcome.h; `failed` never includes soft failures).
using RunTotals = Totals;

// A run of one suite. Times are nanoseconds since the Unix epoch, 0 when not yet reached.
struct Run {
  std::int64_t id = 0;
  std::string suite;
  std::string namespace_name;
  RunStatus status = RunStatus::kQueued;
  Trigger trigger = Trigger::kApi;
  // Who started the run: the authenticated caller (a token's or certificate's name), the
  // schedule, or, without authentication, what the request said.
  std::string initiated_by;
  // Who the caller said it acts for (the request's initiated_by when authentication is on):
  // shown, never trusted.
  std::string on_behalf_of;
  std::string reference;    // a commit, a release, a ticket: whatever the caller passes
  std::string environment;  // the server's --environment
  std::string schedule;     // name of the schedule that started it, if any
  std::int64_t created_at_ns = 0;
  std::int64_t started_at_ns = 0;
  std::int64_t finished_at_ns = 0;
  bool flaky = false;     // a test failed, then passed on a retry
  int resumed = 0;        // how many times the run was resumed after the server stopped
  std::int64_t retry_of = 0;  // the run this one retries (0: none)
  std::string error;      // why the run ended in error or was cancelled, or stopped early
  // What the run was asked to do.
  std::string filter;     // go test -run regex over the suite's tests
  std::vector<std::string> tests;  // explicit test list (retries of failed tests); empty: all
  KeyValues labels;       // caller's labels, stored with the run
  KeyValues params;       // caller's parameters, passed to the tests as values
  // The names of the params whose values are secret, decided once when the run is created
  // (the suite's secret_params and serve's --secret-params): stored with the run, so that
  // no later configuration shows an old run's secret. Every surface shows ShownParams.
  std::vector<std::string> secret_params;
  int max_attempts = 0;   // 0: the suite's
  std::int64_t timeout_ms = 0;  // 0: the suite's
  std::string idempotency_key;
  KeyValues values;       // values attached to the run (by hooks)
  std::optional<RunTotals> totals;  // set when the run finishes
  // The replica executing the run, or that executed it last (a shared store's claims set
  // it: Store::ClaimRuns); empty on a store one server owns.
  std::string replica;
  // The hunt this run is one of (issue 21; 0: none).
  std::int64_t hunt_id = 0;
  // Hold the first failing test before its cleanups (issue 21), and the hold, once there was
  // one.
  bool hold_on_failure = false;
  std::optional<RunHold> hold;
};

// What stands for a secret param's value wherever a run is shown (API, live stream, UI,
// hooks, logs).
inline constexpr std::string_view kRedacted = "[redacted]";

// Returns true if the run's param `key` is secret (one of its secret_params).
bool IsSecretParam(const Run& run, std::string_view key);

// Returns the run's params as they may be shown: each secret one's value is kRedacted. The
// real values are only for the tests (the worker's plan) and for a retry.
KeyValues ShownParams(const Run& run);

// Returns true for a test, false for a subtest ("Test/Sub").
inline bool IsTopLevel(std::string_view test_name) {
  return test_name.find('/') == std::string_view::npos;
}

// Returns true for the states a test ends in (passed, failed, skipped, cancelled).
inline bool IsFinal(TestStatus status) {
  return status != TestStatus::kPending && status != TestStatus::kRunning;
}

// How a finished test compares with the same test in the run it is compared with (issue 19:
// Allure's "new failed", Jenkins' "failing since"), decided once when the run finishes
// (engine/test_changes.h) and stored on its row. Names: "" (none: still passing, or nothing
// to compare with), "new_failure", "still_failing", "fixed", "new_test".
enum class TestChange : std::uint8_t { kNone, kNewFailure, kStillFailing, kFixed, kNewTest };

const char* TestChangeName(TestChange change);
bool ParseTestChange(std::string_view name, TestChange* out);

// The first run of a test's current run of failures (the one a fix ends): its id, reference
// and creation time, kept on the row so it outlives that run's retention.
struct FailingSince {
  std::int64_t run_id = 0;  // 0: none
  std::string reference;
  std::int64_t created_at_ns = 0;
  bool operator==(const FailingSince&) const = default;
};

// One test of a run, as it stands: its latest attempt.
struct TestRow {
  std::string name;  // "Test" or "Test/Sub"
  TestStatus status = TestStatus::kPending;
  int attempt = 0;
  bool soft_failure = false;
  bool flaky = false;
  std::int64_t started_at_ns = 0;
  std::int64_t duration_ms = 0;
  std::string message;  // first failure or skip reason, "file.cc:12: message"
  // The journal seq of this state (0: not journaled). The store rebuilds the run's "test"
  // journal entries from the rows: a test's state is its entry, at this seq.
  std::int64_t seq = 0;
  // The W3C trace id of its latest attempt (32 hex digits; "" before schema 10 or when it
  // never started), so an attempt that is not stored (a quiet pass) still links to its trace.
  std::string trace_id;
  // Set when the run finishes (schema 11): how the test compares with the previous run, and
  // for a failure (or a fix) since which run it has been failing.
  TestChange change = TestChange::kNone;
  FailingSince failing_since;
};

// Returns the verdict of a finished test row, as the runner decided it. A row that never got
// to finish (pending or running) reads as cancelled: nothing will run it in this run.
Verdict VerdictOf(const TestRow& row);

// Returns false for the row of a subtest that only an earlier attempt of its test ran (the
// retry that decided the test did not run it again): like `run`'s reports, which drop a
// failed attempt's subtests, the result model leaves it out.
// `top_level_attempts` maps each top-level test to its row's attempt; empty when no row
// has an attempt above 1 (no retries: every row counts).
bool IsCurrentRow(const TestRow& row,
                  const std::unordered_map<std::string_view, int>& top_level_attempts);

// Returns the attempt of each top-level test of `rows` if any row was retried (see
// IsCurrentRow), else an empty map.
std::unordered_map<std::string_view, int> RetriedTopLevelAttempts(const std::vector<TestRow>& rows);

// Returns the totals of a run's test rows: every current row (IsCurrentRow), subtests
// included.
Totals TotalsOf(const std::vector<TestRow>& rows);

// A failure inside an attempt.
struct Failure {
  std::string message;
  std::string file;
  int line = 0;
};

// A span inside an attempt.
struct Span {
  std::string name;
  std::int64_t start_ns = 0;
  std::int64_t elapsed_ns = 0;
  KeyValues attributes;
};

// What one recorded line of an attempt was (event/event.h's kinds of the same names), and
// the suite-level phase markers. Stored by number: values are only ever appended.
enum class LineKind : std::uint8_t {
  kOutput = 0,            // a line the test wrote to stdout/stderr
  kLog = 1,               // t.Log (file, line)
  kFailure = 2,           // a failure (file, line, key = its cause, soft)
  kSkip = 3,              // the skip (file, line)
  kSetupStarted = 4,      // suite level: setup begins (in a worker)
  kSetupFinished = 5,     // suite level: setup ended (failed: it failed)
  kTeardownStarted = 6,   // suite level: teardown begins
  kTeardownFinished = 7,  // suite level: teardown ended (failed: it failed)
};

// One thing an attempt recorded, as it happened: what it was and when, so that reports
// replay it as the event it was instead of parsing text back.
struct OutputLine {
  LineKind kind = LineKind::kOutput;
  std::int64_t time_ns = 0;  // wall clock, nanoseconds since the Unix epoch
  std::string text;          // the line or message, without '\n'
  std::string file;          // where a log, failure or skip was reported (may be empty)
  int line = 0;
  std::string key;           // a failure's cause ("crash", "timeout"; empty: an assertion)
  bool soft = false;         // a failure of a soft test
  bool failed = false;       // a phase that failed (kSetupFinished, kTeardownFinished)
  bool operator==(const OutputLine&) const = default;
};

// Returns a line as the API and the UI show it: the text, "file.cc:12: message" for a log,
// failure or skip with a location; empty for a phase marker (see IsShownLine).
std::string ShownText(const OutputLine& line);

// Returns true if the line is output (not a phase marker).
inline bool IsShownLine(const OutputLine& line) { return line.kind <= LineKind::kSkip; }

// One attempt of one test (or subtest), with everything it produced.
struct Attempt {
  std::string test;
  int attempt = 1;
  TestStatus status = TestStatus::kPassed;
  bool soft_failure = false;
  std::int64_t started_at_ns = 0;
  std::int64_t duration_ms = 0;
  // Everything it wrote, in order. The suite's own attempt (test "", attempt 0) holds
  // setup and teardown output between their phase markers; started_at_ns is the suite's
  // start and duration_ms its length.
  std::vector<OutputLine> lines;
  std::vector<Failure> failures;
  std::string skip_reason;
  KeyValues values;
  std::vector<Span> spans;
  // The W3C trace id of the attempt (event/trace_context.h), "" if it had none.
  std::string trace_id;
  // Store it even if it passed with nothing recorded: its test's row will not show it (a
  // subtest whose parent was retried), so it could not be given back from the row.
  bool keep_quiet = false;
};

// One attachment of an attempt (t.Attach), without its bytes: what the API lists. `test`
// and `attempt` are the (sub)test's and its attempt's; a name is unique within them.
struct AttachmentInfo {
  std::string test;
  int attempt = 1;
  std::string name;
  std::string media_type;
  std::int64_t size = 0;
  bool operator==(const AttachmentInfo&) const = default;
};

// Returns the kUnavailable error of a read that the database could not answer (`what`:
// "an attachment"): the server answers 503, never an empty success.
Error Unreadable(std::string_view what);

// One attachment with its bytes: what a write stores and a download reads.
struct StoredAttachment {
  AttachmentInfo info;
  std::string data;
};

// One entry of a run's journal: what the live stream sends. `seq` counts from 1 within a
// run; `data` is a JSON object.
struct RunEvent {
  std::int64_t seq = 0;
  std::string type;  // "run", "test", ...
  std::string data;
};

// A suite that the binary does not declare, created by the first report ingested for it
// (issue 20): it has ingested runs only, and no command to run.
struct IngestedSuite {
  std::string name;
  std::int64_t created_at_ns = 0;
  bool operator==(const IngestedSuite&) const = default;
};

// The state of a hunt (issue 21): running until it ends by itself (passed: every run it
// made passed; failed: one failed), by a user (stopped: no new run, the current one
// finishes; cancelled: the current run is cancelled too), or because it cannot go on
// (error: its suite is gone, or a run could not be created).
enum class HuntStatus : std::uint8_t { kRunning, kPassed, kFailed, kStopped, kCancelled, kError };

const char* HuntStatusName(HuntStatus status);
bool ParseHuntStatus(std::string_view name, HuntStatus* out);

// A hunt for a flaky test (issue 21): a series of runs of one suite, one after another, up
// to `repeat` runs or until `max_duration_ms` has passed since it was created, stopping at
// the first failed run when `until_failure`. What its runs ran and how they ended is read
// from the runs (Store::CountHuntRuns), never kept twice.
struct Hunt {
  std::int64_t id = 0;
  std::string suite;
  std::string namespace_name;
  HuntStatus status = HuntStatus::kRunning;
  Trigger trigger = Trigger::kApi;
  std::string initiated_by;
  std::string on_behalf_of;
  std::string reference;
  std::string schedule;  // the schedule that started it, if any
  // What each of its runs is asked to do (RunRequest's fields of the same names).
  std::string filter;
  std::vector<std::string> tests;
  KeyValues labels;
  KeyValues params;
  std::vector<std::string> secret_params;
  int max_attempts = 0;
  std::int64_t timeout_ms = 0;
  bool hold_on_failure = false;
  // When it ends: after `repeat` runs (0: no limit), once `max_duration_ms` has passed
  // (0: no limit; a run in progress then finishes), at the first failure if until_failure.
  int repeat = 0;
  bool until_failure = false;
  std::int64_t max_duration_ms = 0;
  std::int64_t created_at_ns = 0;
  std::int64_t finished_at_ns = 0;  // 0 while running
  std::string error;  // why it ended, when not by itself (stopped by whom, the error)
};

// How a hunt's runs stand, counted from the runs themselves.
struct HuntRuns {
  std::int64_t runs = 0;        // every run of the hunt
  std::int64_t unfinished = 0;  // queued, running
  std::int64_t passed = 0;
  std::int64_t failed = 0;
  std::int64_t cancelled = 0;
  std::int64_t errors = 0;
  std::int64_t first_failed_run = 0;  // the oldest failed run (0: none)
  std::int64_t last_run = 0;          // the newest run (0: none)
};

// Filters and paging of ListHunts, newest first.
struct HuntQuery {
  std::string suite;  // empty: every suite
  std::optional<HuntStatus> status;
  std::string schedule;  // empty: any
  std::int64_t before_id = 0;  // cursor: only hunts with id < before_id (0: none)
  int limit = 50;
};

// A schedule created over the API (schedules declared in code are not stored).
struct StoredSchedule {
  std::string name;
  std::string suite;
  std::string spec;       // cron spec or "@every 30s"
  std::string time_zone;  // IANA name; empty: UTC
  std::string filter;
  bool paused = false;
  std::int64_t created_at_ns = 0;
  // A schedule that starts a hunt (issue 21) instead of a run: its limits (Hunt's repeat,
  // until_failure, max_duration_ms). A schedule hunts when repeat or max duration is set.
  int hunt_repeat = 0;
  bool hunt_until_failure = false;
  std::int64_t hunt_max_duration_ms = 0;
};

// Filters and paging of ListRuns. Runs come newest first (descending id).
struct RunQuery {
  std::string suite;                  // empty: every suite
  std::optional<RunStatus> status;
  std::string reference;
  std::int64_t before_id = 0;         // cursor: only runs with id < before_id (0: none)
  int limit = 50;
  std::int64_t hunt_id = 0;           // non-zero: only the runs of that hunt
};

// One test in one run, with the run it belongs to: a line of a test's history
// (Store::TestHistory) or a search's answer (Store::SearchTests).
struct TestInRun {
  std::int64_t run_id = 0;
  std::string suite;
  std::string reference;
  std::string environment;
  RunStatus run_status = RunStatus::kQueued;
  std::int64_t run_created_at_ns = 0;
  TestRow test;
};

// One test of one suite across its runs, newest first (Store::TestHistory).
struct TestHistoryQuery {
  std::string suite;
  std::string test;
  std::int64_t before_id = 0;  // cursor: only runs with id < before_id (0: none)
  int limit = 50;
};

// Tests of stored runs by name and failure text, newest run first (Store::SearchTests). Both
// match as substrings, ignoring the case of ASCII letters; `failure` only matches failed
// tests (their first failure's message, location included); an empty one matches any.
struct TestSearch {
  std::string suite;  // empty: every suite
  std::string test;
  std::string failure;
  std::int64_t before_id = 0;  // cursor: only runs with id < before_id (0: none)
  int limit = 50;
};

// A change to a run; unset fields keep their value.
struct RunUpdate {
  std::int64_t id = 0;
  std::optional<RunStatus> status;
  std::optional<std::int64_t> started_at_ns;
  std::optional<std::int64_t> finished_at_ns;
  std::optional<bool> flaky;
  std::optional<int> resumed;
  std::optional<std::string> error;
  std::optional<KeyValues> values;  // replaces the run's values
  std::optional<RunTotals> totals;
  std::optional<RunHold> hold;      // replaces the run's hold
};

// The state of a delivery: pending until it is delivered, given up (failed), or its
// destination asked never to be called again (disabled, a 410).
enum class DeliveryState : std::uint8_t { kPending, kDelivered, kFailed, kDisabled };

const char* DeliveryStateName(DeliveryState state);
bool ParseDeliveryState(std::string_view name, DeliveryState* out);

// One notification to one destination (issue 16): the outbox row, written in the transaction
// that commits what it tells, and kept with every attempt's outcome.
struct Delivery {
  std::string id;           // stable across retries and restarts: receivers de-duplicate by it
  std::int64_t run_id = 0;
  std::string suite;
  std::string destination;  // the destination's configured name
  std::string plugin;       // its kind: slack, pagerduty, github, webhook
  std::string target;       // where it sends, as it may be shown (never a secret)
  std::string event;        // run.started | run.finished | test.failed
  std::string payload;      // the notification (notify::ToJson)
  DeliveryState state = DeliveryState::kPending;
  int attempts = 0;
  std::int64_t created_at_ns = 0;
  std::int64_t next_attempt_at_ns = 0;  // when a pending one is due
  std::int64_t finished_at_ns = 0;      // when it left pending (0 while pending)
  std::string last_error;
  std::string progress;  // what the plugin keeps (notify::Outcome::progress)
};

// The outcome of an attempt at a delivery.
struct DeliveryUpdate {
  std::string id;
  DeliveryState state = DeliveryState::kPending;
  int attempts = 0;
  std::int64_t next_attempt_at_ns = 0;
  std::int64_t finished_at_ns = 0;
  std::string last_error;
  std::string progress;
};

// A group of writes committed together, in order, in one transaction.
struct WriteBatch {
  std::vector<RunUpdate> run_updates;
  // Upserts by (run id, test name).
  std::vector<std::pair<std::int64_t, TestRow>> tests;
  // Upserts by (run id, test, attempt).
  std::vector<std::pair<std::int64_t, Attempt>> attempts;
  // Appended to the journal; (run id, seq) is unique.
  std::vector<std::pair<std::int64_t, RunEvent>> events;
  // Inserted unless a delivery with the same id exists (a decision made again after a
  // restart is the same delivery).
  std::vector<Delivery> deliveries;
  // Inserted; an attachment with the same (run id, test, attempt, name) is replaced (an
  // attempt resumed after a restart attaches again).
  std::vector<std::pair<std::int64_t, StoredAttachment>> attachments;
  // (run id, lease token): on a shared store the batch commits only while each of these
  // runs is still leased with this token (a replica whose run was taken over cannot write
  // it any more: fencing); it fails alone otherwise. Ignored by a store one server owns.
  std::vector<std::pair<std::int64_t, std::int64_t>> fences;

  bool empty() const {
    return run_updates.empty() && tests.empty() && attempts.empty() && events.empty() &&
           deliveries.empty() && attachments.empty();
  }
};

// The runs of one suite triggered with one reference that its verdict reads
// (Store::RunsOfReference).
// Only runs of the whole suite count (no filter, no list of tests: a run of some of its
// tests, or a retry of the failed ones, says nothing of the suite at that reference).
struct ReferenceRuns {
  std::optional<Run> finished;    // the latest finished run (passed, failed, cancelled, error)
  std::optional<Run> unfinished;  // the latest queued or running run newer than `finished`
};

// The result of CreateRun.
struct CreatedRun {
  Run run;
  bool created = true;  // false: an earlier run with the same idempotency key was returned
  // CreateRunIfSuiteIdle only: the unfinished run of the suite that kept this one from being
  // created (0: none; then `created` or an idempotent answer).
  std::int64_t busy_with = 0;
};

// A run a replica claimed from a shared store's queue (Store::ClaimRuns): it executes it
// while it renews the lease.
struct LeasedRun {
  Run run;  // as claimed: queued, or running (a run whose replica's lease expired: resume it)
  std::int64_t lease_token = 0;  // the fencing token: WriteBatch::fences
  bool cancel_requested = false;
};

// What a replica asks of the queue (Store::ClaimRuns).
struct ClaimRequest {
  std::string replica;
  int limit = 1;
  std::int64_t ttl_ms = 15000;
  std::int64_t only_run = 0;         // non-zero: that run alone
  std::vector<std::string> suites;  // empty: any suite
};

// What renewing a run's lease found (Store::RenewLeases).
struct LeaseState {
  std::int64_t run_id = 0;
  bool held = false;  // false: another replica took it over, or the run is gone
  bool cancel_requested = false;
  // A release of the run's current hold was asked for (RequestRelease) on any replica.
  bool release_requested = false;
};

class Store {
 public:
  virtual ~Store() = default;

  // Inserts `run` (its id and created_at are assigned) with its tests as pending rows,
  // synchronously and durably. With a non-empty idempotency key that an earlier run
  // already has, returns that run instead and inserts nothing; concurrent calls with one
  // key create exactly one run. kUnavailable if the run was not committed.
  virtual Result<CreatedRun> CreateRun(Run run, const std::vector<std::string>& test_names) = 0;

  // Queues `batch` for the single writer, which commits several batches in one
  // transaction. `done` (optional) runs on the writer thread after the commit, with true,
  // or with false if the transaction failed. Must return quickly.
  virtual void Write(WriteBatch batch, std::function<void(bool ok)> done = nullptr) = 0;

  // Blocks until every batch queued before the call is committed.
  virtual void Sync() = 0;

  // Reads see only committed data.
  virtual std::optional<Run> GetRun(std::int64_t id) = 0;
  virtual std::vector<Run> ListRuns(const RunQuery& query) = 0;
  // Runs in these states, oldest first (for resume and the queue at start-up).
  virtual std::vector<Run> RunsWithStatus(const std::vector<RunStatus>& statuses) = 0;
  // How many runs are in these states.
  virtual std::int64_t CountRuns(const std::vector<RunStatus>& statuses) {
    return static_cast<std::int64_t>(RunsWithStatus(statuses).size());
  }
  // The latest finished runs of a suite, newest first.
  virtual std::vector<Run> LastRuns(const std::string& suite, int limit) = 0;
  // The latest finished run of `suite` triggered with `reference`, and the latest unfinished
  // one newer than it (what GET /suites/{suite}/verdict answers from), as of one moment: each
  // nullopt when there is none. The backends read both in one statement down an index on
  // (suite, reference, id), whatever the number of runs; this default pages through ListRuns.
  virtual ReferenceRuns RunsOfReference(const std::string& suite, const std::string& reference);
  // What a finished `run` compares with (issue 16, the change a notification tells): the
  // latest run before it of the whole suite (no filter, no list of tests) in its namespace
  // and environment that passed, failed or ended in error; nullopt if there is none.
  virtual std::optional<Run> PreviousFullRun(const Run& run) {
    (void)run;
    return std::nullopt;
  }
  // Every test of a run: the tests it planned, in order, each as recorded or pending if
  // not started yet, then the others (subtests) in the order they were first recorded.
  virtual std::vector<TestRow> GetTests(std::int64_t run_id) = 0;
  // The rows of one test (or subtest) of a suite in its runs, newest run first (every run
  // that recorded it, partial ones too), at most query.limit. Down an index on (name, run id).
  virtual std::vector<TestInRun> TestHistory(const TestHistoryQuery& query) {
    (void)query;
    return {};
  }
  // The oldest stored run of `suite` in which `test` failed (not a soft failure); nullopt if
  // none.
  virtual std::optional<TestInRun> FirstFailure(const std::string& suite,
                                                const std::string& test) {
    (void)suite;
    (void)test;
    return std::nullopt;
  }
  // The test rows that match `search`, newest run first, at most search.limit.
  virtual std::vector<TestInRun> SearchTests(const TestSearch& search) {
    (void)search;
    return {};
  }
  // Every attempt of one test of a run, oldest first (empty if none). A passing attempt
  // with nothing recorded (no output, failures, values or spans) may be kept only as its
  // test's row: it reads back once that row shows it as the test's latest attempt.
  virtual std::vector<Attempt> GetAttempts(std::int64_t run_id, const std::string& test) = 0;
  // Every attempt of a run, ordered by test first-seen order then attempt (for reports).
  virtual std::vector<Attempt> GetAllAttempts(std::int64_t run_id) = 0;
  // Journal entries of a run with seq > after_seq, in order, at most `limit`: the events
  // written to it and, for each test row with a seq, a "test" entry holding the row as
  // AppendTestRowJson writes it. A test has one entry, its latest state: an earlier one is
  // gone once its row changes (what a reader catching up needs, with fewer writes).
  virtual std::vector<RunEvent> GetEvents(std::int64_t run_id, std::int64_t after_seq,
                                          int limit) = 0;
  // The highest seq in the run's journal (0 if empty).
  virtual std::int64_t LastEventSeq(std::int64_t run_id) = 0;

  // The attachments of a run (of one test when `test` is set), ordered by test, attempt
  // and the order they were stored; kUnavailable when the database cannot be read (an
  // error, never an empty list). A store without attachments has none.
  virtual Result<std::vector<AttachmentInfo>> ListAttachments(
      std::int64_t run_id, const std::optional<std::string>& test) {
    (void)run_id;
    (void)test;
    return std::vector<AttachmentInfo>{};
  }
  // One attachment with its bytes, nullopt if there is none; kUnavailable when the database
  // cannot be read.
  virtual Result<std::optional<StoredAttachment>> GetAttachment(std::int64_t run_id,
                                                                const std::string& test,
                                                                int attempt,
                                                                const std::string& name) {
    (void)run_id, (void)test, (void)attempt, (void)name;
    return std::optional<StoredAttachment>{};
  }

  // Schedules created over the API. Each write is committed before it returns: kConflict
  // when PutSchedule's name exists, kNotFound when the schedule to change or delete does
  // not, kUnavailable when the database could not commit the write.
  virtual Result<void> PutSchedule(const StoredSchedule& schedule) = 0;
  virtual Result<void> UpdateSchedulePaused(const std::string& name, bool paused) = 0;
  virtual Result<void> DeleteSchedule(const std::string& name) = 0;
  // Every stored schedule, by name.
  virtual std::vector<StoredSchedule> ListSchedules() = 0;
  // The same, or nullopt if the database could not be read (logged): what a replica that
  // brings its schedules in line with the store's needs, where "none" and "cannot say" differ.
  virtual std::optional<std::vector<StoredSchedule>> TryListSchedules() { return ListSchedules(); }

  // Deletes finished runs (and everything of theirs) created before `cutoff_ns`, but the
  // runs of a running hunt (its counts are its runs'); returns how many runs were deleted.
  // Runs in small transactions so writers are not starved.
  // Ingested suites stay: a suite outlives its runs.
  virtual std::int64_t DeleteRunsBefore(std::int64_t cutoff_ns) = 0;

  // Deletes one run and everything of its (tests, attempts, journal, deliveries,
  // attachments), whatever its status, committed before it returns: what an ingest whose
  // writes failed leaves behind. Ok if there is no such run; kUnavailable if the deletion
  // did not commit.
  virtual Result<void> DeleteRun(std::int64_t run_id) {
    return Error{ErrorCode::kUnsupported,
                 "this store cannot delete run " + std::to_string(run_id)};
  }

  // Hunts (issue 21). CreateHunt inserts `hunt` (its id and created_at are assigned) and
  // returns it, committed before it returns (kUnavailable if not). EndHunt ends a running
  // hunt with `status`, `error` and `finished_at_ns`: true if it was running (it ends now),
  // false if it had ended already (it is left as it was), kUnavailable if the write did not
  // commit. CountHuntRuns counts its runs by status (nullopt: the database cannot be read).
  virtual Result<Hunt> CreateHunt(Hunt hunt) {
    return Error{ErrorCode::kUnsupported, "this store keeps no hunts: " + hunt.suite};
  }
  virtual std::optional<Hunt> GetHunt(std::int64_t id) {
    (void)id;
    return std::nullopt;
  }
  virtual std::vector<Hunt> ListHunts(const HuntQuery& query) {
    (void)query;
    return {};
  }
  virtual Result<bool> EndHunt(std::int64_t id, HuntStatus status, const std::string& error,
                               std::int64_t finished_at_ns) {
    (void)status, (void)error, (void)finished_at_ns;
    return Error{ErrorCode::kUnsupported, "this store keeps no hunts: " + std::to_string(id)};
  }
  virtual std::optional<HuntRuns> CountHuntRuns(std::int64_t id) {
    (void)id;
    return std::nullopt;
  }

  // Suites created by an ingested report (IngestedSuite). AddIngestedSuite inserts `suite`
  // unless one of its name exists (then it keeps the first's creation time), committed
  // before it returns: kUnavailable if it did not commit. The list is by name.
  virtual Result<void> AddIngestedSuite(const IngestedSuite& suite) {
    return Error{ErrorCode::kUnsupported, "this store keeps no ingested suites: " + suite.name};
  }
  virtual std::vector<IngestedSuite> ListIngestedSuites() { return {}; }

  // The outbox (issue 16). Pending deliveries of `destination`, oldest first (a destination
  // is told in the order things happened: a run's start before its end), at most `limit`.
  virtual std::vector<Delivery> PendingDeliveries(const std::string& destination, int limit) {
    (void)destination;
    (void)limit;
    return {};
  }
  // Commits the outcome of an attempt before it returns: kNotFound when there is no such
  // delivery, kUnavailable when the database could not commit it.
  virtual Result<void> UpdateDelivery(const DeliveryUpdate& update) {
    return Error{ErrorCode::kUnsupported, "this store keeps no deliveries: " + update.id};
  }
  // Every delivery of a run, oldest first, without their payloads.
  virtual std::vector<Delivery> RunDeliveries(std::int64_t run_id) {
    (void)run_id;
    return {};
  }
  // The progress kept by the latest delivered delivery of `destination` about `suite` that
  // kept one ("" if none): what a later message of that suite answers (a Slack thread).
  virtual std::string LastDeliveryProgress(const std::string& destination,
                                           const std::string& suite) {
    (void)destination;
    (void)suite;
    return {};
  }
  // How many deliveries are pending, by destination (absent: none).
  virtual std::map<std::string, std::int64_t> PendingDeliveryCounts() { return {}; }

  // Several replicas on one store (issue 17). A store one server owns (SQLite) answers
  // Shared() false and the engine keeps its queue in memory; a shared store (PostgreSQL)
  // keeps the queue, the leases and the cancels in the database, so that every replica
  // reads the same. Times of leases are the database's clock, never a replica's.
  virtual bool Shared() const { return false; }
  // Creates the run as CreateRun does, with the first entry of its journal (the run, queued,
  // as AppendRunJson shows it) in the same transaction, so that whichever replica claims it
  // continues its journal. With `exclusive` (a suite that skips new runs while one is in
  // progress), nothing is created while the suite has an unfinished exclusive run (queued or
  // running, on any replica): busy_with names it. An idempotency key already used returns its
  // run. Atomic across replicas.
  virtual Result<CreatedRun> CreateSharedRun(Run run, const std::vector<std::string>& test_names,
                                             bool exclusive) {
    (void)exclusive;
    return CreateRun(std::move(run), test_names);
  }
  // Claims up to `limit` runs for `replica` with a lease of `ttl_ms`, oldest first, runs
  // whose lease expired (their replica is gone: resumed) before queued ones, never a run of
  // a suite that has another run leased (one run of a suite at a time, across replicas),
  // and never two of one suite; only runs of `suites` when it is not empty (the suites the
  // replica's binary has: during a rolling update, a run of a suite only the new binary has
  // waits for a replica that has it). `only_run` (non-zero): claims that run alone, whatever
  // its suite (to cancel it). Rows another transaction holds are skipped (FOR UPDATE SKIP
  // LOCKED). Each claim sets the run's replica and a new fencing token.
  virtual Result<std::vector<LeasedRun>> ClaimRuns(const ClaimRequest& request) {
    (void)request;
    return Error{ErrorCode::kUnsupported, "this store is not shared"};
  }
  // Extends the leases (run id, token) `replica` holds by `ttl_ms`, and says for each
  // whether it is still held and whether a cancel was asked for. kUnavailable when the
  // database cannot be written (the leases run out on their own).
  virtual Result<std::vector<LeaseState>> RenewLeases(
      const std::string& replica, const std::vector<std::pair<std::int64_t, std::int64_t>>& leases,
      std::int64_t ttl_ms) {
    (void)replica;
    (void)leases;
    (void)ttl_ms;
    return Error{ErrorCode::kUnsupported, "this store is not shared"};
  }
  // Ends the leases (run id, token) at once (a replica that stops leaves its unfinished
  // runs to the others without waiting for the ttl). Best effort: logged if it fails.
  virtual void ReleaseLeases(const std::vector<std::pair<std::int64_t, std::int64_t>>& leases) {
    (void)leases;
  }
  // Records that the run is to be cancelled, for the replica executing it (it sees it at its
  // next renewal). Returns the run as it stands: kNotFound if there is none; a finished run
  // is returned unchanged.
  virtual Result<Run> RequestCancel(std::int64_t run_id) {
    return Error{ErrorCode::kUnsupported,
                 "this store is not shared: run " + std::to_string(run_id)};
  }
  // Records that the test the run holds is to be released, for the replica executing it (it
  // sees it at its next renewal; a change of the run's hold clears it, so that it never
  // releases a later hold). Returns the run as it stands: kNotFound if there is none,
  // kConflict if it is not held.
  virtual Result<Run> RequestRelease(std::int64_t run_id) {
    return Error{ErrorCode::kUnsupported,
                 "this store is not shared: run " + std::to_string(run_id)};
  }
  // Claims the firing of `schedule` due at `due_ns` (the same on every replica): true for
  // the one replica that gets it, false for every other.
  virtual Result<bool> ClaimScheduleFiring(const std::string& schedule, std::int64_t due_ns,
                                           const std::string& replica) {
    (void)schedule;
    (void)due_ns;
    (void)replica;
    return Error{ErrorCode::kUnsupported, "this store is not shared"};
  }
  // Notes the run a claimed firing started (best effort: logged if it fails).
  virtual void NoteScheduleRun(const std::string& schedule, std::int64_t due_ns,
                               std::int64_t run_id) {
    (void)schedule;
    (void)due_ns;
    (void)run_id;
  }
  // Takes or keeps the lead among the replicas for `ttl_ms` (what one replica does for all:
  // sending the outbox's notifications): true while `holder` (one process) leads, false
  // while another's lead is live. kUnavailable when the database cannot be written.
  virtual Result<bool> Lead(const std::string& holder, std::int64_t ttl_ms) {
    (void)holder;
    (void)ttl_ms;
    return true;
  }
  // Whether schedules declared in code (not stored) are paused, shared by the replicas:
  // committed before it returns (kUnavailable if not); nullopt if it cannot be read.
  virtual Result<void> SetCodeSchedulePaused(const std::string& name, bool paused) {
    (void)name;
    (void)paused;
    return {};
  }
  virtual std::optional<std::map<std::string, bool>> CodeSchedulePauses() {
    return std::map<std::string, bool>{};
  }
  // The id of an unfinished (queued or running) run started by `schedule`, 0 if none.
  virtual std::int64_t UnfinishedScheduleRun(const std::string& schedule) {
    (void)schedule;
    return 0;
  }

  // Commits a tiny write that needs new disk space, as every real write may: ok if it
  // committed, else kUnavailable saying why not (disk full, I/O error, read-only). The
  // server calls it every few seconds to decide its readiness. A store with nothing to
  // probe is ok.
  virtual Result<void> ProbeWrite() { return {}; }

  // Writes a consistent snapshot of the store to the file `path` (replaced atomically if
  // it exists) while the store keeps serving: readers and the writer are not blocked for
  // more than a step of the copy. kUnavailable if the copy failed (its message says why);
  // kUnsupported from a store that cannot back up.
  virtual Result<BackupInfo> Backup(const std::string& path) {
    return Error{ErrorCode::kUnsupported, "this store cannot be backed up to " + path};
  }
};

}  // namespace handoff::store
