#include "base/result.h"
#include "engine/serve_engine.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <optional>
#include <random>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "engine/active_run.h"
#include "engine/hunts.h"
#include "engine/run_engine.h"
#include "engine/run_hold.h"
#include "engine/run_recorder.h"
#include "engine/test_changes.h"
#include "event/hold.h"
#include "external/external_runner.h"
#include "otlp/trace_recorder.h"
#include "runner/name_filter.h"
#include "worker/supervisor.h"

namespace handoff {
namespace {

// Between a resumed external suite's run and its recorder: the command runs whole again, so
// the events of tests that had ended before the restart are dropped (their results stand),
// and a test that was running then and that the command does not report again is cancelled
// when the run ends, never left running.
class ResumedExternalRun : public EventSink {
 public:
  ResumedExternalRun(EventSink& out, std::string suite, std::set<std::string> ended_before,
                     std::map<std::string, int> open_before)
      : out_(out),
        suite_(std::move(suite)),
        ended_before_(std::move(ended_before)),
        open_before_(std::move(open_before)) {}

  void OnEvent(const Event& e) override {
    const std::string top = e.test.substr(0, e.test.find('/'));
    if (!top.empty() && ended_before_.count(top) != 0) return;
    if (e.kind == EventKind::kTestStarted && e.test == top) open_before_.erase(top);
    if (e.kind == EventKind::kSuiteFinished) CancelTheUnreported();
    out_.OnEvent(e);
  }
  void Flush() override { out_.Flush(); }

  void CancelTheUnreported() {
    for (const auto& [test, attempt] : open_before_) {
      Event e;
      e.suite = suite_;
      e.test = test;
      e.attempt = attempt;
      e.time_ns = NowNs();
      // Started again under its attempt, as a resumed C++ test is, to be ended.
      e.kind = EventKind::kTestStarted;
      out_.OnEvent(e);
      e.kind = EventKind::kSkip;
      e.text = "cancelled: the command did not report the test again when its run resumed";
      out_.OnEvent(e);
      e.text.clear();
      e.status = Status::kCancelled;
      e.kind = EventKind::kAttemptFinished;
      out_.OnEvent(e);
      e.kind = EventKind::kTestFinished;
      out_.OnEvent(e);
    }
    open_before_.clear();
  }

 private:
  EventSink& out_;
  std::string suite_;
  std::set<std::string> ended_before_;
  std::map<std::string, int> open_before_;
};

using store::IsTopLevel;
using store::RunStatus;
using store::TestStatus;

std::int64_t ToNs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace


ServeEngine::ServeEngine(const Catalog& catalog, store::Store& store, ServerLog& log,
                         std::vector<Schedule> code_schedules,
                         std::vector<std::shared_ptr<Hook>> hooks, ServeOptions options)
    : catalog_(catalog),
      store_(store),
      log_(log),
      code_schedules_(std::move(code_schedules)),
      options_(std::move(options)),
      shared_(store.Shared()) {
  if (shared_) {
    std::random_device random;
    lead_holder_ = fmt::format("{}/{:08x}{:08x}", options_.replica, random(), random());
  }
  suites_running_ = &metrics_.AddGauge("handoff_testsuites_running",
                                       "Suite runs executing now.", {"namespace", "suite"});
  run_metrics_ = std::make_unique<RunMetrics>(metrics_);
  queue_depth_ = &metrics_.AddGauge("handoff_run_queue_depth",
                                    "Runs waiting to start (global limit or suite busy).", {});
  runs_active_ = &metrics_.AddGauge("handoff_runs_running", "Runs executing now.", {});
  schedule_lag_ = &metrics_.AddHistogram(
      "handoff_schedule_lag_seconds", "How late schedules fired after their due time.",
      {"schedule"}, {0.001, 0.01, 0.1, 0.5, 1, 5, 30, 60, 300});
  schedule_skipped_ = &metrics_.AddCounter(
      "handoff_schedule_skipped_total",
      "Schedule firings skipped because the schedule's previous run had not finished.",
      {"schedule"});
  hook_errors_ = &metrics_.AddCounter("handoff_hook_errors_total",
                                      "Hook calls that threw.", {"hook"});
  hook_dropped_ = &metrics_.AddCounter("handoff_hook_dropped_total",
                                       "Hook notifications dropped because its queue was full.",
                                       {"hook"});
  retention_deleted_ = &metrics_.AddCounter("handoff_retention_deleted_runs_total",
                                            "Runs deleted by --retention.", {});
  if (options_.traces) {
    otlp_exported_ = &metrics_.AddCounter("handoff_otlp_spans_exported_total",
                                          "Spans the OTLP collector (--otlp-endpoint) accepted.");
    otlp_dropped_ = &metrics_.AddCounter(
        "handoff_otlp_spans_dropped_total",
        "Spans not exported: the queue was full or the collector failed after retries.");
  }
  schedule_next_ = &metrics_.AddGauge(
      "handoff_schedule_next_run_timestamp_seconds",
      "When an unpaused schedule fires next, in seconds since the Unix epoch.",
      {"schedule", "namespace", "suite"});
  schedule_gap_ = &metrics_.AddGauge(
      "handoff_schedule_max_interval_seconds",
      fmt::format("The longest time between two of an unpaused schedule's next {} firings.",
                  ScheduleBook::kGapFirings),
      {"schedule", "namespace", "suite"});
  queue_depth_->With({}).Set(0);
  runs_active_->With({}).Set(0);
  for (const Suite& suite : catalog_.suites) {
    suites_running_->With({suite.namespace_name, suite.name}).Set(0);
    run_metrics_->AddSuite(suite.namespace_name, suite.name);
  }
  for (auto& hook : hooks) {
    const std::string name = hook->Name();
    hooks_.push_back(std::make_unique<HookRunner>(std::move(hook), log_,
                                                  hook_errors_->With({name}),
                                                  hook_dropped_->With({name})));
  }
  hook_observer_ = std::make_unique<HookObserver>(
      hooks_, [this](std::int64_t run_id, std::string key, std::string value) {
        AttachRunValue(run_id, std::move(key), std::move(value));
      });
  observers_ = {&live_, run_metrics_.get(), hook_observer_.get()};
  if (!options_.destinations.empty()) {
    decider_ = std::make_unique<NotifyDecider>(options_.destinations, options_.external_url,
                                               options_.now);
    DeliveryOptions delivery = options_.delivery;
    delivery.now = options_.now;
    // Of several replicas, the one that leads sends (each would send every delivery else).
    if (shared_) {
      delivery.may_send = [this] {
        return leading_.load() && SteadyNs() < lead_until_ns_.load();
      };
    }
    deliveries_ = std::make_unique<DeliveryWorker>(store_, options_.destinations, log_, metrics_,
                                                   std::move(delivery));
  }
}

ServeEngine::~ServeEngine() {
  if (accepting_.load() || scheduler_.joinable()) Shutdown(std::chrono::milliseconds(0));
}

bool ServeEngine::Start(std::string* error) {
  const auto now = options_.now();
  // When each suite last finished a run with each result, from the store: a restart does
  // not reset it, so "its latest run failed" and "this scheduled suite stopped running" hold
  // across restarts. The latest few by id, since a run created later may have finished
  // first; a result older than these is not needed to tell either.
  for (const Suite& suite : catalog_.suites) {
    for (const store::Run& run : store_.LastRuns(suite.name, 8)) {
      if (run.namespace_name != suite.namespace_name) continue;
      run_metrics_->NoteRunFinished(suite.namespace_name, suite.name, run.status,
                                    run.finished_at_ns);
    }
  }
  {
    std::lock_guard lock(schedules_mu_);
    if (Result<void> added = AddCodeSchedules(catalog_, code_schedules_, schedules_, now);
        !added.ok()) {
      *error = added.error().message;
      return false;
    }
    for (const store::StoredSchedule& s : store_.ListSchedules()) {
      std::string why;
      if (!schedules_.Add(ToScheduleInfo(s), now, &why)) {
        log_.Warn("stored schedule not loaded", {{"schedule", s.name}, {"error", why}});
      }
    }
  }

  StartIngested();

  // Runs the last server left running resume first, in their order; queued runs follow. On
  // a shared store the replicas claim them (ReplicaLoop): the queue is the database's.
  std::vector<store::Run> running;
  std::vector<store::Run> queued;
  if (!shared_) {
    // A held run's worker died with the server: it resumes as a running one does.
    running = store_.RunsWithStatus({RunStatus::kRunning, RunStatus::kHeld});
    queued = store_.RunsWithStatus({RunStatus::kQueued});
  }
  {
    std::lock_guard lock(mu_);
    for (const store::Run& run : running) {
      auto active = MakeActive(run, LastSeq(run.id));
      active->resuming = true;
      log_.Info("resuming run", {{"run", std::to_string(run.id)}, {"suite", run.suite}});
      queue_.push_back(active);
      active_[run.id] = active;
    }
    for (const store::Run& run : queued) {
      auto active = MakeActive(run, LastSeq(run.id));
      queue_.push_back(active);
      active_[run.id] = active;
    }
    std::lock_guard schedules_lock(schedules_mu_);
    for (const auto& [id, active] : active_) {
      if (!active->run.schedule.empty()) schedules_.SetLastRun(active->run.schedule, id);
    }
  }
  accepting_.store(true);
  {
    std::lock_guard lock(mu_);
    DispatchLocked();
  }
  // Hunts whose last run ended while the server was stopped (or whose next run could not
  // be stored) go on.
  ContinueHunts();
  scheduler_ = std::thread([this] { SchedulerLoop(); });
  if (options_.retention.count() > 0) retention_ = std::thread([this] { RetentionLoop(); });
  store_probe_ = std::thread([this] { StoreProbeLoop(); });
  if (shared_) {
    renewed_at_ns_.store(SteadyNs());  // no lease yet: none is overdue
    replica_loop_ = std::thread([this] { ReplicaLoop(); });
    lease_watchdog_ = std::thread([this] { LeaseWatchdogLoop(); });
    live_poll_ = std::thread([this] { LivePollLoop(); });
  }
  if (deliveries_) deliveries_->Start();
  ready_.store(true);
  return true;
}

void ServeEngine::Shutdown(std::chrono::milliseconds timeout) {
  accepting_.store(false);
  ready_.store(false);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::shared_ptr<ActiveRun>> running;
  {
    std::lock_guard lock(mu_);
    draining_ = true;
    for (const auto& [id, active] : active_) {
      if (active->running && active->gate) running.push_back(active);
    }
  }
  for (const auto& active : running) {
    // A held test goes on with its cleanups, so that its world is not left behind.
    active->release.store(true);
    active->gate->RequestDrain();
  }
  {
    std::unique_lock lock(mu_);
    if (!runs_changed_.wait_until(lock, deadline, [&] { return run_threads_.empty(); })) {
      log_.Warn("shutdown timeout: stopping the tests still running; their runs resume at "
                "the next start",
                {{"runs", std::to_string(run_threads_.size())}});
      for (const auto& [id, active] : active_) {
        if (active->running && active->gate) active->gate->StopNow();
      }
    }
    runs_changed_.wait(lock, [&] { return run_threads_.empty() && ingests_ == 0; });
  }
  std::vector<std::thread> done;
  {
    std::lock_guard lock(mu_);
    done.swap(finished_threads_);
  }
  for (std::thread& t : done) t.join();
  {
    // Only now: the leases of the runs above were renewed while they drained.
    std::lock_guard lock(replica_mu_);
    replica_stopping_ = true;
  }
  replica_wake_.notify_all();
  if (replica_loop_.joinable()) replica_loop_.join();
  if (live_poll_.joinable()) live_poll_.join();
  if (lease_watchdog_.joinable()) lease_watchdog_.join();
  {
    std::lock_guard lock(schedules_mu_);
    stopping_ = true;
  }
  schedules_changed_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  if (retention_.joinable()) retention_.join();
  if (store_probe_.joinable()) store_probe_.join();
  store_.Sync();
  for (auto& hook : hooks_) hook->Stop(std::chrono::seconds(5));
  // What is not delivered yet stays pending in the store and goes out at the next start.
  if (deliveries_) deliveries_->Stop();
}

void ServeEngine::PokeScheduler() { schedules_changed_.notify_all(); }

std::vector<SuiteInfo> ServeEngine::Suites() const {
  std::vector<SuiteInfo> out;
  for (const Suite& s : catalog_.suites) {
    SuiteInfo info;
    info.name = s.name;
    info.namespace_name = s.namespace_name;
    info.description = s.description;
    info.labels = s.labels;
    for (const Test& t : s.tests) info.tests.push_back(t.name);
    info.max_attempts = s.max_attempts;
    info.timeout_ms = s.timeout.count();
    info.concurrency = s.concurrency == Suite::Concurrency::kSkip ? "skip" : "queue";
    if (s.external) {
      info.external_format = external::ReportFormatName(s.external->format);
      info.external_tool = external::ExternalToolName(s.external->tool);
    }
    out.push_back(std::move(info));
  }
  // Then the suites that ingested reports created, by name (one the binary has come to
  // declare since is the binary's).
  for (const store::IngestedSuite& s : store_.ListIngestedSuites()) {
    if (catalog_.Find(s.name) != nullptr) continue;
    SuiteInfo info;
    info.name = s.name;
    info.ingest_only = true;
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::vector<std::string>> ServeEngine::ResolveTests(const Suite& suite,
                                                           const RunRequest& request) {
  if (suite.external) {
    // Its tests are its command's: the filter goes to the tool's own, and the tests are
    // known when it reports them (no row is made before).
    if (!request.filter.empty()) {
      Result<std::vector<std::string>> args = external::PatternArgs(suite.external->tool, request.filter);
      if (!args.ok()) return Error{ErrorCode::kInvalid, "filter: " + args.error().message};
    }
    return std::vector<std::string>{};
  }
  std::string error;
  auto filter = NameFilter::Compile(request.filter, &error);
  if (!filter) return Error{ErrorCode::kInvalid, "filter: " + error};
  for (const std::string& name : request.tests) {
    if (std::none_of(suite.tests.begin(), suite.tests.end(),
                     [&](const Test& t) { return t.name == name; })) {
      return Error{ErrorCode::kInvalid,
                   fmt::format("tests: suite \"{}\" has no test \"{}\"", suite.name, name)};
    }
  }
  std::vector<std::string> tests;
  for (const Test& t : suite.tests) {
    if (!request.tests.empty() &&
        std::find(request.tests.begin(), request.tests.end(), t.name) == request.tests.end()) {
      continue;
    }
    if (filter->Selects(t.name)) tests.push_back(t.name);
  }
  if (tests.empty()) {
    return Error{ErrorCode::kInvalid, fmt::format("filter \"{}\" selects no test of suite \"{}\"",
                                                  request.filter, suite.name)};
  }
  return tests;
}

Result<TriggeredRun> ServeEngine::Trigger(const RunRequest& request) {
  if (!accepting_.load()) return Error{ErrorCode::kUnavailable, "the server is shutting down"};
  const Suite* suite = catalog_.Find(request.suite);
  if (suite == nullptr) {
    if (std::optional<Error> ingest_only = IngestOnlyError(request.suite)) return *ingest_only;
    return Error{ErrorCode::kNotFound, fmt::format("no suite named \"{}\"", request.suite)};
  }
  if (request.max_attempts < 0) {
    return Error{ErrorCode::kInvalid, "max_attempts: must be at least 1"};
  }
  if (request.timeout_ms < 0) return Error{ErrorCode::kInvalid, "timeout: must be positive"};
  Result<std::vector<std::string>> resolved = ResolveTests(*suite, request);
  if (!resolved.ok()) return std::move(resolved).error();
  const std::vector<std::string>& tests = *resolved;

  store::Run run;
  run.suite = suite->name;
  run.namespace_name = suite->namespace_name;
  run.status = RunStatus::kQueued;
  run.trigger = request.trigger;
  run.initiated_by = request.initiated_by;
  run.on_behalf_of = request.on_behalf_of;
  run.reference = request.reference;
  run.environment = options_.environment;
  run.schedule = request.schedule;
  run.hunt_id = request.hunt_id;
  run.filter = request.filter;
  run.tests = request.tests;
  run.labels = request.labels;
  run.params = request.params;
  // Decided here, once: the run keeps the names, and every surface reads them from it.
  run.secret_params =
      DecideSecretParams(request.params, SecretParamPatterns(suite->secret_params),
                         options_.secret_params, request.secret_params);
  // A secret the caller also put in the run's description (a label, the reference, a name) is
  // masked there as in the tests' output: those are shown, never passed to a test.
  SecretMask::Of(run).MaskDescription(run.labels,
                                      {&run.reference, &run.initiated_by, &run.on_behalf_of});
  run.max_attempts = request.max_attempts;
  run.timeout_ms = request.timeout_ms;
  run.retry_of = request.retry_of;
  run.hold_on_failure = request.hold_on_failure;
  run.idempotency_key = request.idempotency_key;

  const bool skips = suite->concurrency == Suite::Concurrency::kSkip;
  const auto suite_busy = [&](std::int64_t busy_with) {
    return Error{ErrorCode::kConflict,
                 fmt::format(
                     "suite \"{}\" already has run {} in progress and skips new runs meanwhile",
                     suite->name, busy_with)};
  };
  // One server: the queue is this engine's, under mu_. Replicas: the queue is the
  // database's, any replica claims the run (ReplicaLoop), and a suite that skips new runs
  // while one is in progress is checked there, across replicas.
  std::unique_lock lock(mu_, std::defer_lock);
  if (!shared_) {
    lock.lock();
    if (skips) {
      for (const auto& [id, active] : active_) {
        if (active->run.suite != suite->name) continue;
        {
          // A run whose final state is decided is over for this rule: a client that saw it
          // finish and triggers the next one must not be refused while its thread winds down.
          std::lock_guard run_lock(active->mu);
          if (store::IsFinished(active->run.status)) continue;
        }
        if (!request.idempotency_key.empty() &&
            active->run.idempotency_key == request.idempotency_key) {
          return TriggeredRun{active->run, false};
        }
        return suite_busy(id);
      }
    }
  }
  Result<store::CreatedRun> stored = shared_
                                         ? store_.CreateSharedRun(std::move(run), tests, skips)
                                         : store_.CreateRun(std::move(run), tests);
  if (!stored.ok()) {
    // Not committed: nothing is queued, and the caller must not think otherwise.
    StoreWriteFailed(fmt::format("a new run of suite \"{}\" could not be stored", suite->name));
    return Error{ErrorCode::kUnavailable,
                 "the run could not be stored: the store cannot write (see /readyz); "
                 "nothing was queued, try again later"};
  }
  const store::CreatedRun& created = *stored;
  if (created.busy_with != 0) return suite_busy(created.busy_with);
  if (!created.created) {
    if (created.run.suite != suite->name) {
      // The key names another request: answering with that run would hide the mistake.
      return Error{ErrorCode::kConflict,
                   fmt::format("Idempotency-Key \"{}\" was already used for run {} of suite \"{}\"",
                               request.idempotency_key, created.run.id, created.run.suite)};
    }
    return TriggeredRun{created.run, false};
  }
  log_.Info("run queued", {{"run", std::to_string(created.run.id)},
                           {"suite", created.run.suite},
                           {"trigger", store::TriggerName(created.run.trigger)}});
  if (shared_) {
    WakeReplica();
    return TriggeredRun{created.run, true};
  }
  auto active = MakeActive(created.run, 0);
  // The journal starts with the queued run, so a live stream shows it from its start.
  store::RunUpdate none;
  none.id = created.run.id;
  active->recorder->UpdateRun(none, created.run);
  active_[created.run.id] = active;
  queue_.push_back(active);
  DispatchLocked();
  return TriggeredRun{created.run, true};
}

std::shared_ptr<ServeEngine::ActiveRun> ServeEngine::MakeActive(const store::Run& run,
                                                                std::int64_t last_seq) {
  auto active = std::make_shared<ActiveRun>();
  active->run = run;
  active->key = RunKey{run.id, run.namespace_name, run.suite};
  active->journal = std::make_unique<RunJournal>(run.id, last_seq);
  std::weak_ptr<ActiveRun> weak = active;
  active->recorder = std::make_unique<RunRecorder>(
      store_, *active->journal, [this, weak](const Committed& committed) {
        OnCommitted(committed, weak.lock());
      },
      SecretMask::Of(run));
  active->gate = std::make_unique<DrainGate>(*active->recorder, active->cancel);
  if (decider_) {
    active->recorder->SetTestFailedDecider([this, weak](const store::TestRow& row) {
      std::shared_ptr<ActiveRun> run = weak.lock();
      if (!run) return std::vector<store::Delivery>{};
      store::Run facts;
      {
        std::lock_guard lock(run->mu);
        facts = run->run;
      }
      return decider_->TestFailed(facts, row);
    });
  }
  return active;
}

void ServeEngine::DispatchLocked() {
  if (draining_) return;
  // Hunts' runs queue behind every other run (issue 21: a hunt never starves scheduled
  // runs): those first, then the hunts' with the room left.
  for (const bool hunts : {false, true}) {
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (static_cast<int>(run_threads_.size()) >= options_.max_concurrent_runs) break;
      // While the store cannot write, a run could not even be marked running.
      if (!store_writable_.load()) break;
      std::shared_ptr<ActiveRun> run = *it;
      if ((run->run.hunt_id != 0) != hunts || running_suites_.count(run->run.suite) != 0) {
        ++it;
        continue;
      }
      it = queue_.erase(it);
      StartLocked(run);
    }
  }
  queue_depth_->With({}).Set(static_cast<double>(queue_.size()));
  runs_active_->With({}).Set(static_cast<double>(run_threads_.size()));
  // Threads of finished runs are joined here, outside their own thread.
  for (std::thread& t : finished_threads_) {
    if (t.joinable()) t.join();
  }
  finished_threads_.clear();
}

void ServeEngine::StartLocked(const std::shared_ptr<ActiveRun>& run) {
  run->running = true;
  running_suites_.insert(run->run.suite);
  run_threads_[run->run.id] = std::thread([this, run] { Execute(run); });
}

void ServeEngine::Execute(std::shared_ptr<ActiveRun> active) {
  const std::int64_t id = active->run.id;
  const Suite* suite = catalog_.Find(active->run.suite);
  auto end_thread = [&] {
    {
      std::lock_guard lock(mu_);
      running_suites_.erase(active->run.suite);
      active_.erase(id);
      auto node = run_threads_.extract(id);
      DispatchLocked();  // joins the threads of runs that ended before, never this one
      if (!node.empty()) finished_threads_.push_back(std::move(node.mapped()));
      runs_changed_.notify_all();
    }
    if (shared_) WakeReplica();  // room for another run
  };
  if (shared_ && active->user_cancelled.load()) {
    // Cancelled (on any replica) before this one claimed it: it ends here, never started.
    store_.Sync();
    std::vector<store::TestRow> rows = store_.GetTests(id);
    active->recorder->CancelUnfinished(rows, "cancelled: the run was cancelled before the test started");
    FinishRun(*active, RunEnding{.cancelled = true},
              active->run.started_at_ns == 0 ? "cancelled before it started" : "cancelled",
              rows);
    end_thread();
    return;
  }
  if (suite == nullptr) {
    store_.Sync();
    FinishRun(*active, RunEnding{.error = true},
              fmt::format("this binary has no suite named \"{}\" any more", active->run.suite),
              store_.GetTests(id));
    end_thread();
    return;
  }

  store::Run run_after;
  store::Run run_before;
  store::RunUpdate update;
  update.id = id;
  update.status = RunStatus::kRunning;
  {
    std::lock_guard lock(active->mu);
    run_before = active->run;
    if (active->run.started_at_ns == 0) {
      active->run.started_at_ns = NowNs();
      update.started_at_ns = active->run.started_at_ns;
    }
    if (active->resuming) {
      update.resumed = ++active->run.resumed;
      // Held when its server stopped: the worker that held it died with the server.
      if (active->run.hold && active->run.hold->ended.empty()) {
        active->run.hold->released_at_ns = NowNs();
        active->run.hold->ended = HoldEndName(HoldEnd::kWorkerGone);
        update.hold = active->run.hold;
      }
    }
    active->run.status = RunStatus::kRunning;
    run_after = active->run;
  }
  // Nothing runs that the store does not show running: wait for the commit.
  const std::uint64_t failed_before = active->recorder->failed_writes();
  active->recorder->UpdateRun(update, run_after,
                              decider_ ? decider_->RunStarted(run_after)
                                       : std::vector<store::Delivery>{});
  store_.Sync();
  if (active->recorder->failed_writes() != failed_before) {
    {
      std::lock_guard lock(active->mu);
      active->run = run_before;
    }
    if (shared_) {
      // Another replica took it over, or the store cannot write: either way the run is
      // the database's again (queued or running, its lease running out), and this replica
      // goes on without it.
      const bool lost = LeaseLost(*active);
      if (!lost) StoreWriteFailed(fmt::format("run {} could not be marked running", id));
      end_thread();
      if (!lost) store_.ReleaseLeases({{id, active->lease_token}});
      return;
    }
    StoreWriteFailed(fmt::format("run {} could not be marked running", id));
    log_.Error("run not started: the store cannot write; it starts when the store writes again",
               {{"run", std::to_string(id)}, {"suite", suite->name}});
    // Back to the head of the queue, which waits while the store cannot write.
    std::lock_guard lock(mu_);
    running_suites_.erase(active->run.suite);
    auto node = run_threads_.extract(id);
    active->running = false;
    queue_.push_front(active);
    if (!node.empty()) finished_threads_.push_back(std::move(node.mapped()));
    queue_depth_->With({}).Set(static_cast<double>(queue_.size()));
    runs_active_->With({}).Set(static_cast<double>(run_threads_.size()));
    runs_changed_.notify_all();
    return;
  }
  suites_running_->With({suite->namespace_name, suite->name}).Inc();
  log_.Info(active->resuming ? "run resumed" : "run started",
            {{"run", std::to_string(id)}, {"suite", suite->name}});

  // Every top-level test not finished yet: all of them for a new run, the rest for a
  // resumed one (a test that was running starts again under the same attempt number).
  RunOptions run_options;
  run_options.timeout = std::chrono::milliseconds(run_after.timeout_ms);
  run_options.default_timeout = options_.default_timeout;
  run_options.attempts = run_after.max_attempts;
  run_options.grace = options_.grace;
  run_options.isolated = options_.isolated;
  run_options.run_pattern = run_after.filter;
  run_options.hold_on_failure = run_after.hold_on_failure;
  run_options.max_hold = options_.max_hold;
  run_options.release = &active->release;
  std::unordered_map<std::string_view, const Test*> by_name;
  by_name.reserve(suite->tests.size());
  for (const Test& test : suite->tests) by_name.emplace(test.name, &test);
  std::vector<const Test*> tests;
  std::vector<int> first_attempts;
  // An external suite's command runs whole again when its run resumes: what had ended keeps
  // its result, and a test it had started that it does not report again is cancelled.
  std::set<std::string> ended_before;
  std::map<std::string, int> open_before;
  for (const store::TestRow& row : store_.GetTests(id)) {
    if (!IsTopLevel(row.name)) continue;
    if (row.status != TestStatus::kPending && row.status != TestStatus::kRunning) {
      if (suite->external) ended_before.insert(row.name);
      continue;
    }
    if (suite->external) open_before[row.name] = row.attempt;
    auto test = by_name.find(row.name);
    if (test == by_name.end()) continue;
    tests.push_back(test->second);
    first_attempts.push_back(row.attempt);
  }
  SuiteJob job = MakeSuiteJob(*suite, tests, run_options);
  wire::WorkerPlan& plan = job.plan;
  plan.params = run_after.params;
  for (std::size_t i = 0; i < plan.tests.size(); ++i) {
    plan.tests[i].first_attempt = std::max(1, std::min(first_attempts[i], plan.max_attempts));
  }

  if (plan.external) plan.external->tests = run_after.tests;
  Status status = Status::kPassed;
  if ((!plan.tests.empty() || plan.external) && !active->cancel.load()) {
    // With --otlp-endpoint every event also reaches the run's trace recorder.
    FanOut sinks;
    std::optional<ResumedExternalRun> resumed;
    if (plan.external && (!ended_before.empty() || !open_before.empty())) {
      sinks.Add(&resumed.emplace(*active->gate, suite->name, std::move(ended_before),
                                 std::move(open_before)));
    } else {
      sinks.Add(active->gate.get());
    }
    // After the gate: the events before a hold reach the recorder before the hold commits.
    RunHoldSink holds([this, &active](const store::RunHold& hold) { RecordHold(*active, hold); });
    if (run_after.hold_on_failure) sinks.Add(&holds);
    std::optional<otlp::TraceRecorder> traces;
    if (options_.traces) sinks.Add(&traces.emplace(*options_.traces, id));
    status = RunSuite(job, sinks, active->cancel);
    holds.CloseOpenHold(NowNs());
    if (resumed) resumed->CancelTheUnreported();
  }
  active->recorder->Flush();
  suites_running_->With({suite->namespace_name, suite->name}).Dec();

  if (active->gate->stopped() && !active->user_cancelled.load()) {
    if (active->lease_lost.load()) {
      // Another replica took it over (logged when found): it goes on there.
      end_thread();
      return;
    }
    // Stopped by the shutdown: the run stays running in the store and resumes at the next
    // start with the tests that did not finish (on a shared store, at once on another
    // replica: its lease ends when what this one recorded is committed).
    if (shared_) {
      store_.Sync();
      log_.Info("run interrupted by shutdown; another replica resumes it",
                {{"run", std::to_string(id)}, {"suite", suite->name}});
      // No longer this replica's (no renewal extends it) before the lease is handed over.
      const std::int64_t token = active->lease_token;
      end_thread();
      store_.ReleaseLeases({{id, token}});
      return;
    } else {
      log_.Info("run interrupted by shutdown; it resumes at the next start",
                {{"run", std::to_string(id)}, {"suite", suite->name}});
    }
    end_thread();
    return;
  }

  store_.Sync();  // every test row of this run is committed: read the final state
  if (active->recorder->failed_writes() != failed_before && shared_ && LeaseLost(*active)) {
    end_thread();
    return;
  }
  if (active->recorder->failed_writes() != failed_before) {
    // Some results of this run never reached the store: finishing it would report tests
    // that are not stored. It stays running and resumes at the next start with the tests
    // whose results are missing.
    StoreWriteFailed(fmt::format("results of run {} could not be stored", id));
    log_.Error("run not finished: some of its results could not be stored; it stays "
               "unfinished and resumes at the next start",
               {{"run", std::to_string(id)}, {"suite", suite->name}});
    end_thread();
    return;
  }
  std::vector<store::TestRow> rows = store_.GetTests(id);
  RunEnding ending;
  ending.cancelled = active->user_cancelled.load();
  // A suite that failed with no test failing failed outside its tests (setup, teardown,
  // a worker that could not start).
  ending.suite_failed = status == Status::kFailed;
  std::string error;
  if (ending.cancelled) {
    error = "cancelled";
    active->recorder->CancelUnfinished(rows, "cancelled: the run was cancelled before the test started");
  } else if (!active->recorder->setup_error().empty()) {
    error = "setup failed: " + active->recorder->setup_error();
  }
  FinishRun(*active, ending, error, rows);
  end_thread();
}

bool ServeEngine::FinishRun(ActiveRun& active, const RunEnding& ending, const std::string& error,
                            const std::vector<store::TestRow>& final_rows,
                            std::int64_t finished_at_ns) {
  {
    std::lock_guard lock(mu_);
    auto it = active_.find(active.run.id);
    if (it != active_.end()) active.self = it->second;
  }
  const Totals totals = store::TotalsOf(final_rows);
  const RunStatus status = DecideRunStatus(totals, ending);
  store::RunUpdate update;
  update.id = active.run.id;
  update.status = status;
  update.finished_at_ns = finished_at_ns != 0 ? finished_at_ns : NowNs();
  update.flaky = totals.flaky > 0;
  update.error = error;
  update.totals = totals;
  store::Run run_after;
  store::Run run_before;
  {
    std::lock_guard lock(active.mu);
    run_before = active.run;
    active.run.status = status;
    active.run.finished_at_ns = *update.finished_at_ns;
    active.run.flaky = *update.flaky;
    active.run.error = error;
    active.run.totals = totals;
    run_after = active.run;
  }
  // How each test compares with the previous run, decided once and committed with the end.
  // A previous run whose rows do not read back (the store failed the read) decides nothing:
  // every test would look new, for good.
  const std::optional<store::Run> previous = store_.PreviousFullRun(run_after);
  std::vector<store::TestRow> rows = final_rows;
  if (previous) {
    const std::vector<store::TestRow> previous_rows = store_.GetTests(previous->id);
    if (!previous_rows.empty() || !previous->totals || previous->totals->total == 0) {
      active.recorder->RewriteTests(DecideTestChanges(run_after, rows, previous, previous_rows));
    }
  }
  // The notifications this result sends are committed with it (the outbox).
  std::vector<store::Delivery> deliveries;
  if (decider_) deliveries = decider_->RunFinished(run_after, rows, previous);
  const std::uint64_t failed_before = active.recorder->failed_writes();
  active.recorder->UpdateRun(update, run_after, std::move(deliveries));
  store_.Sync();
  if (active.recorder->failed_writes() != failed_before) {
    // The commit callback that would have released `self` never runs.
    std::shared_ptr<ActiveRun> keep = std::exchange(active.self, nullptr);
    {
      std::lock_guard lock(active.mu);
      active.run = run_before;
    }
    // The replica that took it over finishes it (an ingested run has no lease: no token).
    if (shared_ && active.lease_token != 0 && LeaseLost(active)) return false;
    StoreWriteFailed(fmt::format("the final state of run {} could not be stored", active.run.id));
    log_.Error("run not finished: its final state could not be stored; it stays unfinished "
               "and resumes at the next start",
               {{"run", std::to_string(active.run.id)},
                {"suite", active.run.suite},
                {"status", store::RunStatusName(status)}});
    return false;
  }
  log_.Info("run finished", {{"run", std::to_string(active.run.id)},
                             {"suite", active.run.suite},
                             {"status", store::RunStatusName(status)}});
  if (run_after.hunt_id != 0) ContinueHunt(run_after.hunt_id);
  return true;
}

void ServeEngine::OnCommitted(const Committed& committed,
                              const std::shared_ptr<ActiveRun>& active) {
  if (active) {
    std::lock_guard lock(active->held_mu);
    if (active->held) {
      active->held->push_back(committed);
      return;
    }
  }
  if (committed.deliveries && deliveries_) deliveries_->Wake();
  if (!active) {
    live_.Publish(committed.run_id, committed.events);
    return;
  }
  for (CommitObserver* observer : observers_) observer->OnCommitted(active->key, committed);
  // The run's final state is committed: nothing refers to it any more.
  if (committed.run_finished) std::exchange(active->self, nullptr);
}

std::shared_ptr<void> ServeEngine::Subscribe(std::int64_t run_id, RunEventCallback callback) {
  return live_.Subscribe(run_id, std::move(callback));
}

void ServeEngine::AttachRunValue(std::int64_t run_id, std::string key, std::string value) {
  static std::mutex attach_mu;  // one attach at a time: each reads, changes and writes
  std::lock_guard lock(attach_mu);
  store_.Sync();
  std::optional<store::Run> run = store_.GetRun(run_id);
  if (!run) return;
  bool replaced = false;
  for (auto& [k, v] : run->values) {
    if (k == key) {
      v = value;
      replaced = true;
    }
  }
  if (!replaced) run->values.emplace_back(std::move(key), std::move(value));
  RunJournal journal(run_id, LastSeq(run_id));
  store::WriteBatch batch;
  store::RunUpdate update;
  update.id = run_id;
  update.values = run->values;
  batch.run_updates.push_back(update);
  store::RunEvent event = journal.Next("run", RunEventData(*run));
  batch.events.emplace_back(run_id, event);
  store_.Write(std::move(batch), [this, run_id, event](bool ok) {
    if (ok) live_.Publish(run_id, {event});
  });
  store_.Sync();
}

std::int64_t ServeEngine::LastSeq(std::int64_t run_id) { return store_.LastEventSeq(run_id); }

void ServeEngine::RecordHold(ActiveRun& active, const store::RunHold& hold) {
  // Stopped by a shutdown: nothing more of the run is recorded (it resumes at the next start).
  if (active.gate->stopped()) return;
  store::RunUpdate update;
  update.id = active.run.id;
  update.status = hold.ended.empty() ? RunStatus::kHeld : RunStatus::kRunning;
  update.hold = hold;
  store::Run run_after;
  {
    std::lock_guard lock(active.mu);
    active.run.status = *update.status;
    active.run.hold = hold;
    run_after = active.run;
  }
  active.recorder->UpdateRun(update, run_after);
  if (hold.ended.empty()) {
    log_.Info("test held on its failure",
              {{"run", std::to_string(update.id)}, {"test", hold.test},
               {"pid", std::to_string(hold.hold.pid)}});
  } else {
    log_.Info("hold ended", {{"run", std::to_string(update.id)}, {"test", hold.test},
                             {"how", hold.ended}});
  }
}

Result<store::Run> ServeEngine::Release(std::int64_t run_id) {
  std::shared_ptr<ActiveRun> active;
  {
    std::lock_guard lock(mu_);
    if (auto it = active_.find(run_id); it != active_.end() && it->second->running) {
      active = it->second;
    }
  }
  // What the store says, never what is about to be written: a hold not committed yet is
  // not shown, and so cannot be released either.
  std::optional<store::Run> run = store_.GetRun(run_id);
  if (!run) return Error{ErrorCode::kNotFound, fmt::format("no run with id {}", run_id)};
  if (run->status != RunStatus::kHeld) {
    return Error{ErrorCode::kConflict, fmt::format("run {} is not held (it is {})", run_id,
                                                   store::RunStatusName(run->status))};
  }
  if (!active) {
    if (shared_) return ReleaseShared(*run);
    return Error{ErrorCode::kConflict,
                 fmt::format("run {} is held in the store but not executing here: it resumes "
                             "at the next start of the server",
                             run_id)};
  }
  active->release.store(true);
  log_.Info("run release requested", {{"run", std::to_string(run_id)}});
  return *run;
}

Result<store::Run> ServeEngine::Cancel(std::int64_t run_id) {
  if (shared_) return CancelShared(run_id);
  std::shared_ptr<ActiveRun> active;
  bool was_queued = false;
  {
    std::lock_guard lock(mu_);
    auto it = active_.find(run_id);
    if (it != active_.end()) {
      active = it->second;
      if (!active->running) {
        was_queued = true;
        active->self = active;
        queue_.erase(std::remove(queue_.begin(), queue_.end(), active), queue_.end());
        active_.erase(it);
        queue_depth_->With({}).Set(static_cast<double>(queue_.size()));
      }
    }
  }
  if (!active) {
    std::optional<store::Run> run = store_.GetRun(run_id);
    if (!run) return Error{ErrorCode::kNotFound, fmt::format("no run with id {}", run_id)};
    return Error{
        ErrorCode::kConflict,
        store::IsFinished(run->status)
            ? fmt::format("run {} has already finished ({})", run_id,
                          store::RunStatusName(run->status))
            // Left unfinished because the store could not write its results: only the
            // next start can go on with it.
            : fmt::format("run {} is {} in the store but not executing: its results could "
                          "not be stored, and it resumes at the next start of the server",
                          run_id, store::RunStatusName(run->status))};
  }
  active->user_cancelled.store(true);
  if (was_queued) {
    std::vector<store::TestRow> rows = store_.GetTests(run_id);
    active->recorder->CancelUnfinished(rows, "cancelled: the run was cancelled before it started");
    if (!FinishRun(*active, RunEnding{.cancelled = true}, "cancelled before it started", rows)) {
      // Not cancelled after all: back in the queue, as the store still has it.
      active->user_cancelled.store(false);
      {
        std::lock_guard lock(mu_);
        active_[run_id] = active;
        queue_.push_front(active);
        queue_depth_->With({}).Set(static_cast<double>(queue_.size()));
      }
      return Error{ErrorCode::kUnavailable,
                   fmt::format("run {} could not be cancelled: the store cannot write (see "
                               "/readyz); try again later",
                               run_id)};
    }
    // The answer shows the run finished: its cancelled tests must be readable (and cached
    // as a finished run's tests) by then.
    store_.Sync();
  } else {
    active->cancel.store(true);
    log_.Info("run cancel requested", {{"run", std::to_string(run_id)}});
  }
  std::lock_guard lock(active->mu);
  return active->run;
}

Result<store::Run> ServeEngine::Retry(std::int64_t run_id, bool only_failed,
                                      const std::string& initiated_by,
                                      const std::string& on_behalf_of) {
  std::optional<store::Run> run = store_.GetRun(run_id);
  if (!run) return Error{ErrorCode::kNotFound, fmt::format("no run with id {}", run_id)};
  if (!store::IsFinished(run->status)) {
    return Error{ErrorCode::kConflict, fmt::format("run {} has not finished yet ({})", run_id,
                                                   store::RunStatusName(run->status))};
  }
  if (run->trigger == store::Trigger::kIngest) {
    return Error{ErrorCode::kConflict,
                 fmt::format("run {} was ingested from a report: this server did not run it, "
                             "and cannot run it again",
                             run_id)};
  }
  RunRequest request;
  request.suite = run->suite;
  request.trigger = store::Trigger::kRetry;
  request.filter = run->filter;
  request.tests = run->tests;
  request.reference = run->reference;
  request.initiated_by = initiated_by.empty() ? run->initiated_by : initiated_by;
  request.on_behalf_of = on_behalf_of;
  request.labels = run->labels;
  request.params = run->params;  // the real values, secret ones included
  request.secret_params = run->secret_params;
  request.max_attempts = run->max_attempts;
  request.timeout_ms = run->timeout_ms;
  request.hold_on_failure = run->hold_on_failure;
  request.retry_of = run_id;
  if (only_failed) {
    // The tests that failed the run, and those a cancel kept from finishing: neither has a
    // result worth keeping.
    request.tests.clear();
    for (const store::TestRow& row : store_.GetTests(run_id)) {
      if (!IsTopLevel(row.name)) continue;
      const Verdict verdict = store::VerdictOf(row);
      if (verdict.FailsRun() || !verdict.Ran()) request.tests.push_back(row.name);
    }
    if (request.tests.empty()) {
      return Error{ErrorCode::kConflict,
                   fmt::format("run {} has no failed or cancelled test to retry", run_id)};
    }
  }
  Result<TriggeredRun> triggered = Trigger(request);
  if (!triggered.ok()) return std::move(triggered).error();
  return std::move(triggered->run);
}

std::vector<ScheduleInfo> ServeEngine::Schedules() const {
  std::lock_guard lock(schedules_mu_);
  return schedules_.List();
}

Result<void> ServeEngine::AddCodeSchedules(const Catalog& catalog,
                                           const std::vector<Schedule>& schedules,
                                           ScheduleBook& book, ScheduleBook::TimePoint now) {
  for (const Schedule& s : schedules) {
    ScheduleInfo info = ToScheduleInfo({s.name, s.suite, s.spec, s.time_zone, s.filter});
    info.from_code = true;
    if (Result<void> target = CheckScheduleTarget(catalog, info.suite, info.filter);
        !target.ok()) {
      return Error{target.error().code,
                   fmt::format("schedule \"{}\": {}", s.name, target.error().message)};
    }
    std::string why;
    if (!book.Add(info, now, &why)) {
      return Error{ErrorCode::kInvalid, fmt::format("schedule \"{}\": {}", s.name, why)};
    }
  }
  return {};
}

Result<void> ServeEngine::CheckScheduleTarget(const Catalog& catalog, const std::string& suite,
                                              const std::string& filter) {
  if (catalog.Find(suite) == nullptr) {
    return Error{suite.empty() ? ErrorCode::kInvalid : ErrorCode::kNotFound,
                 fmt::format("suite: no suite named \"{}\"", suite)};
  }
  // Refused as a manual trigger with this filter would be: a schedule that selects no
  // test would only ever start empty runs.
  RunRequest request;
  request.suite = suite;
  request.filter = filter;
  if (Result<std::vector<std::string>> tests = ResolveTests(*catalog.Find(suite), request);
      !tests.ok()) {
    return std::move(tests).error();
  }
  return {};
}

Result<void> ServeEngine::CreateSchedule(const store::StoredSchedule& schedule) {
  if (std::string why = ScheduleNameError(schedule.name); !why.empty()) {
    return Error{ErrorCode::kInvalid, std::move(why)};
  }
  if (std::optional<Error> ingest_only = IngestOnlyError(schedule.suite)) return *ingest_only;
  if (Result<void> target = CheckScheduleTarget(catalog_, schedule.suite, schedule.filter);
      !target.ok()) {
    return target;
  }
  if (schedule.hunt_repeat < 0 || schedule.hunt_repeat > kMaxHuntRepeat ||
      schedule.hunt_max_duration_ms < 0 || schedule.hunt_max_duration_ms > kMaxHuntDurationMs) {
    return Error{ErrorCode::kInvalid,
                 fmt::format("hunt: repeat must be between 1 and {}, max_duration at most 168h",
                             kMaxHuntRepeat)};
  }
  ScheduleInfo info = ToScheduleInfo(schedule);
  {
    std::lock_guard lock(schedules_mu_);
    if (schedules_.Find(schedule.name) != nullptr) {
      return Error{ErrorCode::kConflict,
                   fmt::format("a schedule named \"{}\" already exists", schedule.name)};
    }
    std::string error;
    if (!schedules_.Add(info, options_.now(), &error)) {
      return Error{ErrorCode::kInvalid, std::move(error)};
    }
    store::StoredSchedule stored = schedule;
    stored.created_at_ns = NowNs();
    if (Result<void> put = store_.PutSchedule(stored); !put.ok()) {
      schedules_.Remove(schedule.name);
      if (put.error().code == ErrorCode::kConflict) {
        return Error{ErrorCode::kConflict,
                     fmt::format("a schedule named \"{}\" already exists", schedule.name)};
      }
      StoreWriteFailed(fmt::format("schedule \"{}\" could not be stored", schedule.name));
      return Error{ErrorCode::kUnavailable,
                   "the schedule could not be stored: the store cannot write (see /readyz)"};
    }
  }
  schedules_changed_.notify_all();
  log_.Info("schedule created", {{"schedule", schedule.name}, {"spec", schedule.spec}});
  return {};
}

Result<void> ServeEngine::DeleteSchedule(const std::string& name) {
  std::lock_guard lock(schedules_mu_);
  const ScheduleInfo* info = schedules_.Find(name);
  if (info == nullptr) {
    return Error{ErrorCode::kNotFound, fmt::format("no schedule named \"{}\"", name)};
  }
  if (info->from_code) {
    return Error{ErrorCode::kConflict,
                 fmt::format("schedule \"{}\" is declared in code and cannot be deleted", name)};
  }
  // It is stored (it is not from code). Not found in the store: it is gone already, as
  // the caller asked; any other error is a write that did not commit.
  if (Result<void> deleted = store_.DeleteSchedule(name);
      !deleted.ok() && deleted.error().code != ErrorCode::kNotFound) {
    StoreWriteFailed(fmt::format("the deletion of schedule \"{}\" could not be stored", name));
    return Error{ErrorCode::kUnavailable,
                 "the schedule could not be deleted: the store cannot write (see /readyz)"};
  }
  schedules_.Remove(name);
  schedules_changed_.notify_all();
  return {};
}

Result<void> ServeEngine::PauseSchedule(const std::string& name, bool paused) {
  std::lock_guard lock(schedules_mu_);
  const ScheduleInfo* info = schedules_.Find(name);
  if (info == nullptr) {
    return Error{ErrorCode::kNotFound, fmt::format("no schedule named \"{}\"", name)};
  }
  if (info->from_code && shared_) {
    // Not stored, but paused on every replica: the store keeps the pause.
    if (Result<void> updated = store_.SetCodeSchedulePaused(name, paused); !updated.ok()) {
      StoreWriteFailed(fmt::format("the pause of schedule \"{}\" could not be stored", name));
      return Error{ErrorCode::kUnavailable,
                   "the schedule could not be changed: the store cannot write (see /readyz)"};
    }
  } else if (!info->from_code) {
    if (Result<void> updated = store_.UpdateSchedulePaused(name, paused); !updated.ok()) {
      if (updated.error().code == ErrorCode::kNotFound) {
        // Deleted from the store behind the server's back: so it is gone here too.
        schedules_.Remove(name);
        schedules_changed_.notify_all();
        return Error{ErrorCode::kNotFound, fmt::format("no schedule named \"{}\"", name)};
      }
      StoreWriteFailed(fmt::format("the pause of schedule \"{}\" could not be stored", name));
      return Error{ErrorCode::kUnavailable,
                   "the schedule could not be changed: the store cannot write (see /readyz)"};
    }
  }
  schedules_.SetPaused(name, paused, options_.now());
  schedules_changed_.notify_all();
  return {};
}

void ServeEngine::SchedulerLoop() {
  std::unique_lock lock(schedules_mu_);
  while (!stopping_) {
    const auto now = options_.now();
    std::optional<ScheduleBook::TimePoint> wake = schedules_.NextWake();
    if (wake && *wake <= now) {
      std::vector<ScheduleBook::Firing> due = schedules_.Due(now);
      lock.unlock();
      for (const auto& firing : due) {
        if (shared_) {
          // Every replica finds the same due time; the one that claims it fires it.
          Result<bool> claimed = store_.ClaimScheduleFiring(
              firing.schedule.name, ToNs(firing.due), options_.replica);
          if (!claimed.ok()) {
            log_.Warn("schedule did not start a run: its firing could not be claimed",
                      {{"schedule", firing.schedule.name}, {"error", claimed.error().message}});
            continue;
          }
          if (!*claimed) continue;  // another replica fires it
        }
        schedule_lag_->With({firing.schedule.name})
            .Observe(std::chrono::duration<double>(now - firing.due).count());
        Fire(firing);
      }
      lock.lock();
      continue;
    }
    // Wake at the next firing, and at least every second in case the wall clock jumps.
    auto wait = std::chrono::milliseconds(1000);
    if (wake) {
      wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(*wake - now));
    }
    schedules_changed_.wait_for(lock, wait);
  }
}

void ServeEngine::Fire(const ScheduleBook::Firing& firing) {
  const ScheduleInfo& s = firing.schedule;
  if (s.hunt_repeat > 0 || s.hunt_max_duration_ms > 0) {
    FireHunt(firing);
    return;
  }
  if (shared_) {
    // The previous run may be on any replica: the store knows.
    if (const std::int64_t unfinished = store_.UnfinishedScheduleRun(s.name); unfinished != 0) {
      schedule_skipped_->With({s.name}).Inc();
      log_.Info("schedule skipped: its previous run has not finished",
                {{"schedule", s.name}, {"run", std::to_string(unfinished)}});
      return;
    }
  } else if (s.last_run_id != 0) {
    std::lock_guard lock(mu_);
    if (active_.count(s.last_run_id) != 0) {
      schedule_skipped_->With({s.name}).Inc();
      log_.Info("schedule skipped: its previous run has not finished",
                {{"schedule", s.name}, {"run", std::to_string(s.last_run_id)}});
      return;
    }
  }
  RunRequest request;
  request.suite = s.suite;
  request.trigger = store::Trigger::kSchedule;
  request.filter = s.filter;
  request.schedule = s.name;
  request.initiated_by = "schedule " + s.name;
  Result<TriggeredRun> result = Trigger(request);
  if (!result.ok()) {
    if (result.error().code == ErrorCode::kConflict) schedule_skipped_->With({s.name}).Inc();
    log_.Warn("schedule did not start a run",
              {{"schedule", s.name}, {"error", result.error().message}});
    return;
  }
  if (shared_) store_.NoteScheduleRun(s.name, ToNs(firing.due), result->run.id);
  std::lock_guard lock(schedules_mu_);
  schedules_.SetLastRun(s.name, result->run.id);
}

void ServeEngine::RetentionLoop() {
  const auto period = std::clamp<std::chrono::milliseconds>(
      options_.retention / 10, std::chrono::milliseconds(100), std::chrono::hours(1));
  std::unique_lock lock(schedules_mu_);
  while (!stopping_) {
    lock.unlock();
    const std::int64_t cutoff =
        ToNs(options_.now()) -
        std::chrono::duration_cast<std::chrono::nanoseconds>(options_.retention).count();
    const std::int64_t deleted = store_.DeleteRunsBefore(cutoff);
    if (deleted > 0) {
      retention_deleted_->With({}).Inc(static_cast<double>(deleted));
      log_.Info("retention: deleted old runs", {{"runs", std::to_string(deleted)}});
    }
    lock.lock();
    schedules_changed_.wait_for(lock, period, [&] { return stopping_; });
  }
}

void ServeEngine::UpdateScheduleMetrics() const {
  std::vector<ScheduleBook::Timing> timings;
  {
    std::lock_guard lock(schedules_mu_);
    timings = schedules_.Timings();
  }
  std::set<std::vector<std::string>> unpaused;
  for (const ScheduleBook::Timing& t : timings) {
    const Suite* suite = catalog_.Find(t.suite);
    std::vector<std::string> labels = {t.name, suite ? suite->namespace_name : "", t.suite};
    schedule_next_->With(labels).Set(
        std::chrono::duration<double>(t.next.time_since_epoch()).count());
    schedule_gap_->With(labels).Set(std::chrono::duration<double>(t.longest_gap).count());
    // At zero before its first skip, so that increase() sees that one too.
    schedule_skipped_->With({t.name});
    unpaused.insert(std::move(labels));
  }
  // A paused or deleted schedule is not due: its series go.
  schedule_next_->Retain(unpaused);
  schedule_gap_->Retain(unpaused);
}

store::AttemptLinks ServeEngine::LinksOf(const store::Run& run,
                                         const store::Attempt& attempt) const {
  AttemptFacts facts{attempt.trace_id, run.suite, attempt.test, attempt.started_at_ns,
                     attempt.started_at_ns + attempt.duration_ms * 1'000'000};
  return {options_.traces_link.Render(facts), options_.logs_link.Render(facts)};
}

std::string ServeEngine::Metrics() const {
  // One render at a time: the schedules' series are brought up to date just before.
  std::lock_guard render(metrics_render_mu_);
  UpdateScheduleMetrics();
  // Replicas behind one Service are told apart by their series' `replica` label. The queue
  // is the database's: each replica shows all of it.
  if (shared_) {
    queue_depth_->With({}).Set(static_cast<double>(store_.CountRuns({RunStatus::kQueued})));
  }
  if (options_.traces) {
    // The exporter counts on its own thread; the counters catch up when read.
    metrics::Counter& exported = otlp_exported_->With({});
    exported.Inc(static_cast<double>(options_.traces->spans_exported()) - exported.Value());
    metrics::Counter& dropped = otlp_dropped_->With({});
    dropped.Inc(static_cast<double>(options_.traces->spans_dropped()) - dropped.Value());
  }
  if (shared_) return metrics::WithLabel(metrics_.Render(true), "replica", options_.replica);
  return metrics_.Render(true);
}

std::string ServeEngine::NotReadyReason() const {
  if (!ready_.load()) return accepting_.load() ? "starting" : "not started or shutting down";
  if (!store_writable_.load()) {
    std::lock_guard lock(store_error_mu_);
    return "the store cannot write: " + store_error_;
  }
  return {};
}

void ServeEngine::StoreWriteFailed(const std::string& what) {
  {
    std::lock_guard lock(store_error_mu_);
    store_error_ = what;
  }
  if (store_writable_.exchange(false)) {
    log_.Error("store write failed; not ready until the store writes again",
               {{"error", what}});
  }
}

void ServeEngine::StoreProbeLoop() {
  std::unique_lock lock(schedules_mu_);
  while (!stopping_) {
    lock.unlock();
    const Result<void> probe = store_.ProbeWrite();
    if (!probe.ok()) {
      const std::string& error = probe.error().message;
      {
        std::lock_guard error_lock(store_error_mu_);
        store_error_ = error;
      }
      if (store_writable_.exchange(false)) {
        log_.Error("store cannot write; not ready until it writes again", {{"error", error}});
      }
    } else if (!store_writable_.load()) {
      {
        std::lock_guard error_lock(store_error_mu_);
        store_error_.clear();
      }
      store_writable_.store(true);
      log_.Info("store writes again; ready");
      if (shared_) WakeReplica();  // claims what waited
      std::lock_guard runs_lock(mu_);
      DispatchLocked();  // the runs that waited
    }
    // Hunts whose step did not happen (a write or a read that failed, a suite busy, a
    // replica gone between a run's end and the next run) take it now: a step taken twice
    // makes one run (ContinueHunt).
    if (probe.ok() && accepting_.load()) ContinueHunts();
    lock.lock();
    schedules_changed_.wait_for(lock, options_.store_probe_interval, [&] { return stopping_; });
  }
}

Result<store::BackupInfo> ServeEngine::Backup() {
  std::unique_lock lock(backup_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return Error{ErrorCode::kConflict, "a backup is already running"};
  std::error_code ec;
  std::filesystem::create_directories(options_.backup_dir, ec);
  if (ec) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("cannot create the backup directory \"{}\": {}",
                             options_.backup_dir, ec.message())};
  }
  // Named by the time, to the second (UTC); a second backup within the same second gets a
  // suffix.
  const std::tm now = fmt::gmtime(std::chrono::system_clock::to_time_t(options_.now()));
  const std::string stem = fmt::format("{}/handoff-{:%Y%m%dT%H%M%SZ}", options_.backup_dir, now);
  std::string path = stem + ".db";
  for (int i = 2; std::filesystem::exists(path, ec); ++i) path = fmt::format("{}-{}.db", stem, i);
  log_.Info("backup started", {{"path", path}});
  Result<store::BackupInfo> result = store_.Backup(path);
  if (!result.ok()) {
    log_.Error("backup failed", {{"path", path}, {"error", result.error().message}});
    // Whatever the store's code, to the client it is a backup that cannot be made now.
    return Error{ErrorCode::kUnavailable, std::move(result).error().message};
  }
  log_.Info("backup written", {{"path", result->path},
                               {"bytes", std::to_string(result->bytes)},
                               {"duration_ms", std::to_string(result->duration_ms)}});
  return result;
}

}  // namespace handoff
