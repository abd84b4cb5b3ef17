// Hunts (issue 21): a series of runs of one suite, one after another, to provoke a flaky
// failure. A hunt is a row of its own; its runs are ordinary runs that name it. Each step
// (hunts.h) is taken when a run of it has finished, by the server that finished it: the
// next run's idempotency key is the hunt's and the run's number, so that two servers (or a
// restart) that take the same step create one run.

#include <fmt/format.h>

#include "engine/hunts.h"
#include "engine/serve_engine.h"

namespace handoff {
namespace {

std::int64_t ToUnixNs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// The idempotency key of the run a hunt starts after its run `after` (0: its first): the
// same on every server that takes that step, and never one an earlier step used.
std::string HuntKey(std::int64_t hunt_id, std::int64_t after) {
  return fmt::format("hunt-{}-after-{}", hunt_id, after);
}

}  // namespace

RunRequest ServeEngine::HuntRunRequest(const store::Hunt& hunt, std::int64_t after) {
  RunRequest request;
  request.suite = hunt.suite;
  request.trigger = hunt.trigger;
  request.filter = hunt.filter;
  request.tests = hunt.tests;
  request.reference = hunt.reference;
  request.initiated_by = hunt.initiated_by;
  request.on_behalf_of = hunt.on_behalf_of;
  request.labels = hunt.labels;
  request.params = hunt.params;
  request.secret_params = hunt.secret_params;
  request.max_attempts = hunt.max_attempts;
  request.timeout_ms = hunt.timeout_ms;
  request.schedule = hunt.schedule;
  request.hunt_id = hunt.id;
  request.hold_on_failure = hunt.hold_on_failure;
  request.idempotency_key = HuntKey(hunt.id, after);
  return request;
}

Result<store::Hunt> ServeEngine::StartHunt(const HuntRequest& request) {
  if (!accepting_.load()) return Error{ErrorCode::kUnavailable, "the server is shutting down"};
  const RunRequest& run = request.run;
  const Suite* suite = catalog_.Find(run.suite);
  if (suite == nullptr) {
    if (std::optional<Error> ingest_only = IngestOnlyError(run.suite)) return *ingest_only;
    return Error{ErrorCode::kNotFound, fmt::format("no suite named \"{}\"", run.suite)};
  }
  if (request.repeat < 0 || request.repeat > kMaxHuntRepeat) {
    return Error{ErrorCode::kInvalid,
                 fmt::format("repeat: must be between 1 and {}", kMaxHuntRepeat)};
  }
  if (request.max_duration_ms < 0 || request.max_duration_ms > kMaxHuntDurationMs) {
    return Error{ErrorCode::kInvalid, "max_duration: must be positive and at most 168h"};
  }
  if (request.repeat == 0 && request.max_duration_ms == 0) {
    return Error{ErrorCode::kInvalid,
                 "a hunt needs a limit: repeat (how many runs), max_duration, or both"};
  }
  if (run.max_attempts < 0) return Error{ErrorCode::kInvalid, "max_attempts: must be at least 1"};
  if (run.timeout_ms < 0) return Error{ErrorCode::kInvalid, "timeout: must be positive"};
  // The same checks as each run's (a filter that selects nothing is refused now, not at
  // the first run).
  if (Result<std::vector<std::string>> resolved = ResolveTests(*suite, run); !resolved.ok()) {
    return std::move(resolved).error();
  }

  store::Hunt hunt;
  hunt.suite = suite->name;
  hunt.namespace_name = suite->namespace_name;
  hunt.trigger = run.trigger;
  hunt.initiated_by = run.initiated_by;
  hunt.on_behalf_of = run.on_behalf_of;
  hunt.reference = run.reference;
  hunt.schedule = run.schedule;
  hunt.filter = run.filter;
  hunt.tests = run.tests;
  hunt.labels = run.labels;
  hunt.params = run.params;
  // Decided once, as a run's are: every run of the hunt keeps them.
  hunt.secret_params =
      DecideSecretParams(run.params, SecretParamPatterns(suite->secret_params),
                         options_.secret_params, run.secret_params);
  // A secret the caller also put in the hunt's description is masked there, as a run's is
  // (Trigger): its labels, reference and caller are shown, never passed to a test.
  SecretMask::Of(hunt.params, hunt.secret_params)
      .MaskDescription(hunt.labels, {&hunt.reference, &hunt.initiated_by, &hunt.on_behalf_of});
  // A retry that passes would hide the very failure a hunt is after: one attempt per test
  // unless the caller asks for more.
  hunt.max_attempts = run.max_attempts > 0 ? run.max_attempts : 1;
  hunt.timeout_ms = run.timeout_ms;
  hunt.hold_on_failure = request.hold_on_failure;
  hunt.repeat = request.repeat;
  hunt.until_failure = request.until_failure;
  hunt.max_duration_ms = request.max_duration_ms;
  Result<store::Hunt> created = store_.CreateHunt(std::move(hunt));
  if (!created.ok()) {
    StoreWriteFailed(fmt::format("a new hunt of suite \"{}\" could not be stored", suite->name));
    return Error{ErrorCode::kUnavailable,
                 "the hunt could not be stored: the store cannot write (see /readyz); "
                 "nothing was started, try again later"};
  }
  log_.Info("hunt started", {{"hunt", std::to_string(created->id)},
                             {"suite", created->suite},
                             {"repeat", std::to_string(created->repeat)}});
  Result<TriggeredRun> first = Trigger(HuntRunRequest(*created, 0));
  if (!first.ok()) {
    // Nothing runs: the hunt ends here, and says why.
    const std::string why = "its first run could not be queued: " + first.error().message;
    if (Result<bool> ended = store_.EndHunt(created->id, store::HuntStatus::kError, why, NowNs());
        !ended.ok()) {
      // Not even its end is stored: it is running in the store, and starts when the store
      // writes again. Said as it is, so that a client does not start it twice.
      StoreWriteFailed(fmt::format("the end of hunt {} could not be stored", created->id));
      return Error{ErrorCode::kUnavailable,
                   fmt::format("hunt {} is stored but its first run could not be: the store "
                               "cannot write (see /readyz); the hunt starts when it writes "
                               "again, or stop it (POST /api/v1/hunts/{}/stop)",
                               created->id, created->id)};
    }
    return first.error();
  }
  if (first->run.hunt_id != created->id) {
    // Its key names another run (no client may use the hunts' keys; this is a guard).
    (void)store_.EndHunt(created->id, store::HuntStatus::kError,
                         fmt::format("its first run's key names run {}", first->run.id), NowNs());
    return Error{ErrorCode::kConflict, "the hunt's first run could not be created"};
  }
  return *created;
}

Result<store::Hunt> ServeEngine::StopHunt(std::int64_t hunt_id, bool cancel,
                                          const std::string& by) {
  std::optional<store::Hunt> hunt = store_.GetHunt(hunt_id);
  if (!hunt) return Error{ErrorCode::kNotFound, fmt::format("no hunt with id {}", hunt_id)};
  const std::string why =
      fmt::format("{} by {}", cancel ? "cancelled" : "stopped", by.empty() ? "a user" : by);
  Result<bool> ended = store_.EndHunt(
      hunt_id, cancel ? store::HuntStatus::kCancelled : store::HuntStatus::kStopped, why,
      NowNs());
  if (!ended.ok()) {
    StoreWriteFailed(fmt::format("the stop of hunt {} could not be stored", hunt_id));
    return Error{ErrorCode::kUnavailable,
                 fmt::format("hunt {} could not be stopped: the store cannot write (see "
                             "/readyz); try again later",
                             hunt_id)};
  }
  if (!*ended) {
    hunt = store_.GetHunt(hunt_id);
    return Error{ErrorCode::kConflict,
                 fmt::format("hunt {} has already ended ({})", hunt_id,
                             hunt ? store::HuntStatusName(hunt->status) : "gone")};
  }
  log_.Info(cancel ? "hunt cancelled" : "hunt stopped",
            {{"hunt", std::to_string(hunt_id)}, {"by", by}});
  if (cancel) {
    store::RunQuery query;
    query.hunt_id = hunt_id;
    query.limit = 5;  // one unfinished run at a time; the newest few cover a race
    for (const store::Run& run : store_.ListRuns(query)) {
      if (store::IsFinished(run.status)) continue;
      if (Result<store::Run> cancelled = Cancel(run.id);
          !cancelled.ok() && cancelled.error().code != ErrorCode::kConflict) {
        log_.Warn("hunt cancelled, but its run could not be",
                  {{"hunt", std::to_string(hunt_id)},
                   {"run", std::to_string(run.id)},
                   {"error", cancelled.error().message}});
      }
    }
  }
  std::optional<store::Hunt> now = store_.GetHunt(hunt_id);
  if (!now) return Error{ErrorCode::kUnavailable, "the database could not read the hunt"};
  return *now;
}

void ServeEngine::ContinueHunt(std::int64_t hunt_id) {
  // A run it had no business starting, cancelled once the lock is released: the cancel of a
  // queued run finishes it, which takes the next step of its hunt again.
  std::int64_t unwanted = 0;
  {
    std::lock_guard lock(hunts_mu_);
    unwanted = StepHunt(hunt_id);
  }
  if (unwanted != 0) (void)Cancel(unwanted);
}

std::int64_t ServeEngine::StepHunt(std::int64_t hunt_id) {
  std::optional<store::Hunt> hunt = store_.GetHunt(hunt_id);
  if (!hunt) return 0;
  std::optional<store::HuntRuns> runs = store_.CountHuntRuns(hunt_id);
  if (!runs) return 0;  // unreadable: the next start (or the store's recovery) goes on
  const HuntStep step = DecideHuntStep(*hunt, *runs, ToUnixNs(options_.now()));
  if (step.end) {
    if (Result<bool> ended = store_.EndHunt(hunt_id, *step.end, step.why, NowNs());
        !ended.ok()) {
      // The sweep (ContinueHunts) takes the step again once the store writes.
      StoreWriteFailed(fmt::format("the end of hunt {} could not be stored", hunt_id));
      return 0;
    }
    log_.Info("hunt ended", {{"hunt", std::to_string(hunt_id)},
                             {"status", store::HuntStatusName(*step.end)},
                             {"why", step.why}});
    return 0;
  }
  if (!step.next_run) return 0;
  Result<TriggeredRun> next = Trigger(HuntRunRequest(*hunt, runs->last_run));
  if (!next.ok()) {
    // The store cannot write, the server is stopping, or a suite that skips new runs has
    // one in progress: the sweep (ContinueHunts) takes the step again.
    if (next.error().code == ErrorCode::kUnavailable ||
        next.error().code == ErrorCode::kConflict) {
      return 0;
    }
    const std::string why = "its next run could not be queued: " + next.error().message;
    if (!store_.EndHunt(hunt_id, store::HuntStatus::kError, why, NowNs()).ok()) {
      StoreWriteFailed(fmt::format("the end of hunt {} could not be stored", hunt_id));
      return 0;
    }
    log_.Warn("hunt ended", {{"hunt", std::to_string(hunt_id)}, {"why", why}});
    return 0;
  }
  if (next->run.hunt_id != hunt_id) {
    // Its key names another run (no client may use the hunts' keys; this is a guard).
    (void)store_.EndHunt(hunt_id, store::HuntStatus::kError,
                         fmt::format("its next run's key names run {}", next->run.id), NowNs());
    return 0;
  }
  // Stopped meanwhile (on another replica, or by a call that came between the read and the
  // run): the run it had no business starting is cancelled.
  if (std::optional<store::Hunt> after = store_.GetHunt(hunt_id);
      after && after->status != store::HuntStatus::kRunning && next->created) {
    return next->run.id;
  }
  return 0;
}

void ServeEngine::FireHunt(const ScheduleBook::Firing& firing) {
  const ScheduleInfo& s = firing.schedule;
  store::HuntQuery running;
  running.schedule = s.name;
  running.status = store::HuntStatus::kRunning;
  running.limit = 1;
  if (const std::vector<store::Hunt> busy = store_.ListHunts(running); !busy.empty()) {
    schedule_skipped_->With({s.name}).Inc();
    log_.Info("schedule skipped: its previous hunt has not ended",
              {{"schedule", s.name}, {"hunt", std::to_string(busy.front().id)}});
    return;
  }
  HuntRequest request;
  request.run.suite = s.suite;
  request.run.trigger = store::Trigger::kSchedule;
  request.run.filter = s.filter;
  request.run.schedule = s.name;
  request.run.initiated_by = "schedule " + s.name;
  request.repeat = s.hunt_repeat;
  request.until_failure = s.hunt_until_failure;
  request.max_duration_ms = s.hunt_max_duration_ms;
  Result<store::Hunt> started = StartHunt(request);
  if (!started.ok()) {
    log_.Warn("schedule did not start a hunt",
              {{"schedule", s.name}, {"error", started.error().message}});
    return;
  }
  // The schedule's last run is its hunt's first, as a run's schedule shows the run it
  // started (its hunt's runs are under GET /api/v1/runs?hunt=ID).
  if (const std::optional<store::HuntRuns> runs = store_.CountHuntRuns(started->id);
      runs && runs->last_run != 0) {
    std::lock_guard lock(schedules_mu_);
    schedules_.SetLastRun(s.name, runs->last_run);
  }
}

void ServeEngine::ContinueHunts() {
  store::HuntQuery query;
  query.status = store::HuntStatus::kRunning;
  query.limit = 1000;
  for (const store::Hunt& hunt : store_.ListHunts(query)) ContinueHunt(hunt.id);
}

}  // namespace handoff
