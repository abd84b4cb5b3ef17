#pragma once

// What `serve`'s engine offers the HTTP layer (and any other front end): triggering,
// cancelling and retrying runs, the suite catalog, schedules, the live stream of a run and
// the metrics text. Reads of stored runs go to store::Store directly. Every call is
// thread-safe and returns quickly (nothing waits for a run). A call that can fail returns a
// Result (base/result.h) whose error's code the HTTP layer turns into a status (kNotFound
// 404, kInvalid 400, kConflict 409, kUnavailable 503) and whose message is the client's.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "event/event.h"
#include "store/run_json.h"
#include "store/store.h"

namespace handoff {

// What a caller asks of a new run (POST /suites/{suite}/runs, a schedule, a retry).
struct RunRequest {
  std::string suite;
  store::Trigger trigger = store::Trigger::kApi;
  std::string filter;  // go test -run regex over the suite's tests; empty: all
  std::vector<std::string> tests;  // exact top-level test names; empty: all (after filter)
  std::string reference;
  std::string initiated_by;  // who asks: the authenticated caller when there is one
  std::string on_behalf_of;  // who the caller says it acts for (shown, never trusted)
  std::string idempotency_key;
  store::KeyValues labels;
  store::KeyValues params;
  // Params that are secret whatever the patterns say (a retry: those of the run it
  // repeats); the engine adds those the suite's and the server's patterns match.
  std::vector<std::string> secret_params;
  int max_attempts = 0;         // 0: the suite's
  std::int64_t timeout_ms = 0;  // 0: the suite's
  std::int64_t retry_of = 0;
  std::string schedule;  // name of the schedule that fired, if any
  std::int64_t hunt_id = 0;  // the hunt the run is one of (0: none)
  // Hold the first failing test before its cleanups until released (issue 21).
  bool hold_on_failure = false;
};

// What a caller asks of a new hunt (POST /suites/{suite}/hunts, a schedule): runs of
// `run.suite` as `run` describes them, one after another, until store::Hunt's limits.
struct HuntRequest {
  RunRequest run;  // its idempotency_key, retry_of and hunt_id are not used
  int repeat = 0;  // 0: no limit (then max_duration_ms is needed)
  bool until_failure = false;
  std::int64_t max_duration_ms = 0;  // 0: no limit (then repeat is needed)
  bool hold_on_failure = false;
};

// A report produced elsewhere (a CI job's go test -json, JUnit XML or TAP), read whole and
// checked (ingest/collect.h), to store as a run of `suite` (POST /suites/{suite}/ingest).
struct IngestRequest {
  std::string suite;
  std::string reference;
  std::string environment;   // empty: the server's --environment
  std::string initiated_by;  // who sends it: the authenticated caller when there is one
  std::string on_behalf_of;  // who the caller says it acts for (shown, never trusted)
  // The report's events in order (suite left empty), its top-level tests in order, its
  // first and last times, and whether the suite failed outside its tests.
  std::vector<Event> events;
  std::vector<std::string> tests;
  std::int64_t started_at_ns = 0;
  std::int64_t finished_at_ns = 0;
  bool suite_failed = false;
};

// The run a Trigger queued, or found again for an idempotency key it has seen.
struct TriggeredRun {
  store::Run run;
  bool created = true;  // false when an idempotent repeat answered an earlier run
};

// One suite of the binary, as the API shows it.
struct SuiteInfo {
  std::string name;
  std::string namespace_name;
  std::string description;
  std::map<std::string, std::string> labels;
  std::vector<std::string> tests;  // top-level test names, in declaration order
  int max_attempts = 1;
  std::int64_t timeout_ms = 0;
  // What to do with a run while another run of the suite is running: "queue" or "skip".
  std::string concurrency = "queue";
  // An external suite's report format ("go-test-json", "junit", "tap") and tool ("go",
  // "pytest", "node", "other"); empty for a C++ suite. Its tests are known once it ran.
  std::string external_format;
  std::string external_tool;
  // Not declared by the binary: created by an ingested report, it has ingested runs only
  // and nothing to run.
  bool ingest_only = false;
};

// Returns why `name` cannot be the name of a suite created by an ingested report ("" if it
// can): 1 to 128 ASCII letters, digits, '.', '_' and '-'.
std::string IngestSuiteNameError(std::string_view name);

// One schedule, declared in code or created over the API.
struct ScheduleInfo {
  std::string name;
  std::string suite;
  std::string spec;
  std::string time_zone;  // empty: UTC
  std::string filter;
  bool paused = false;
  // A schedule that starts a hunt instead of a run (store::StoredSchedule's fields).
  int hunt_repeat = 0;
  bool hunt_until_failure = false;
  std::int64_t hunt_max_duration_ms = 0;
  bool from_code = false;            // declared in code: cannot be deleted over the API
  std::int64_t next_run_ns = 0;      // 0: never (paused)
  std::int64_t last_run_id = 0;      // the last run it started, 0 if none
};

// Returns a schedule created over the API as the API shows it (not from code; its next run
// and last run unknown).
inline ScheduleInfo ToScheduleInfo(const store::StoredSchedule& s) {
  ScheduleInfo info;
  info.name = s.name;
  info.suite = s.suite;
  info.spec = s.spec;
  info.time_zone = s.time_zone;
  info.filter = s.filter;
  info.paused = s.paused;
  info.hunt_repeat = s.hunt_repeat;
  info.hunt_until_failure = s.hunt_until_failure;
  info.hunt_max_duration_ms = s.hunt_max_duration_ms;
  return info;
}

// Called with journal entries of a run after they are committed, in order. Runs on an
// engine thread: copy what you need and return.
using RunEventCallback = std::function<void(const std::vector<store::RunEvent>&)>;

class ServeApi {
 public:
  virtual ~ServeApi() = default;

  // The suites of the binary, in catalog order.
  virtual std::vector<SuiteInfo> Suites() const = 0;

  // Queues a run. kNotFound: unknown suite; kInvalid: bad filter regex, unknown test,
  // nothing selected, bad attempts/timeout; kUnavailable: shutting down. An idempotency
  // key seen before returns that run with created = false.
  virtual Result<TriggeredRun> Trigger(const RunRequest& request) = 0;

  // Stores a report produced elsewhere as a finished run of request.suite (trigger
  // "ingest"), whole or not at all, through the path every run's results take (new
  // failures and fixes, notifications, metrics, the live stream). A suite the binary does
  // not declare is created, ingest-only. kInvalid: a bad suite name; kUnavailable: the
  // store could not write it (nothing of it remains) or the server is shutting down.
  virtual Result<store::Run> Ingest(const IngestRequest& request) {
    return Error{ErrorCode::kUnsupported, "this server does not ingest reports: " + request.suite};
  }

  // Cancels a queued or running run (running tests are asked to stop, then killed).
  // kNotFound: no such run; kConflict: already finished.
  // kUnavailable: the store could not record the cancel of a queued run. Ok: the run as it
  // is now.
  virtual Result<store::Run> Cancel(std::int64_t run_id) = 0;

  // Releases the test a run holds (hold on failure): its cleanups run, then the run goes
  // on. The run goes back to running once the release is committed. kNotFound: no such
  // run; kConflict: the run is not held (or, on replicas, held by a replica that cannot be
  // reached through the store); kUnavailable: shutting down. Ok: the run as it is now.
  virtual Result<store::Run> Release(std::int64_t run_id) {
    return Error{ErrorCode::kConflict, "run " + std::to_string(run_id) + " is not held"};
  }

  // Starts a new run of the same suite and options, linked to `run_id` (trigger retry);
  // with only_failed, of the tests that failed. kConflict: the run has not finished, or
  // only_failed and nothing failed.
  // kNotFound: no such run; otherwise as Trigger. Ok: the new run. An empty initiated_by
  // keeps the first run's.
  virtual Result<store::Run> Retry(std::int64_t run_id, bool only_failed,
                                   const std::string& initiated_by,
                                   const std::string& on_behalf_of = "") = 0;

  // Starts a hunt (issue 21) and queues its first run. kInvalid: no limit, limits out of
  // bounds, or as Trigger; kNotFound: unknown suite; kUnavailable: the store could not write
  // it (nothing was started) or the server is shutting down.
  virtual Result<store::Hunt> StartHunt(const HuntRequest& request) {
    return Error{ErrorCode::kUnsupported, "this server does not hunt: " + request.run.suite};
  }
  // Ends a running hunt: it starts no new run; with `cancel`, its unfinished run is
  // cancelled too, else it finishes. `by` says who (shown in the hunt's error). kNotFound:
  // no such hunt; kConflict: it has ended; kUnavailable: the store could not write it.
  virtual Result<store::Hunt> StopHunt(std::int64_t hunt_id, bool cancel, const std::string& by) {
    (void)cancel, (void)by;
    return Error{ErrorCode::kUnsupported, "this server does not hunt: " + std::to_string(hunt_id)};
  }

  // Schedules, declared in code first, then stored ones by name.
  virtual std::vector<ScheduleInfo> Schedules() const = 0;
  // Creates a schedule; kInvalid (bad spec, zone, filter, missing name), kNotFound
  // (unknown suite), kConflict (name taken) or kUnavailable (the store cannot write).
  virtual Result<void> CreateSchedule(const store::StoredSchedule& schedule) = 0;
  // Deletes a stored schedule; kNotFound, kConflict for a schedule declared in code, or
  // kUnavailable (the store cannot write).
  virtual Result<void> DeleteSchedule(const std::string& name) = 0;
  // Pauses or resumes a schedule; kNotFound, or kUnavailable (the store cannot write).
  virtual Result<void> PauseSchedule(const std::string& name, bool paused) = 0;

  // Calls `callback` with every journal entry of `run_id` committed from now on, until the
  // returned handle is destroyed. Subscribe first, then read earlier entries from the
  // store, and skip duplicates by seq.
  virtual std::shared_ptr<void> Subscribe(std::int64_t run_id, RunEventCallback callback) = 0;

  // True once resumed runs and schedules are loaded, false again while shutting down or
  // while the store cannot write.
  virtual bool Ready() const = 0;

  // Why the server is not ready ("" when it is): what /readyz shows.
  virtual std::string NotReadyReason() const { return Ready() ? "" : "not ready"; }

  // Writes a consistent snapshot of the store to a new file in the server's backup
  // directory while the server keeps running. kConflict: a backup is already running;
  // kUnavailable: the store cannot be backed up (the message says why).
  virtual Result<store::BackupInfo> Backup() {
    return Error{ErrorCode::kUnavailable, "this server cannot make backups"};
  }

  // The Prometheus text exposition of the server's metrics.
  virtual std::string Metrics() const = 0;

  // Returns the links of `attempt` of a test of `run` to its traces and logs (serve's
  // --traces-link-template and --logs-link-template); none by default.
  virtual store::AttemptLinks LinksOf(const store::Run& run, const store::Attempt& attempt) const {
    (void)run;
    (void)attempt;
    return {};
  }
};

}  // namespace handoff
