#pragma once

// The engine of `serve`: a queue of runs executed under a global concurrency limit (and one
// run per suite at a time), schedules, cancellation, resume of runs a stopped server left
// behind, retention, metrics and hooks. Runs execute exactly as in `run` (RunSuite, one
// worker per suite run); their events go to the store through a RunRecorder, and only
// committed results reach the CommitObservers: the live stream, the metrics and the hooks.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/commit_observer.h"
#include "engine/delivery_worker.h"
#include "engine/hook_observer.h"
#include "engine/hook_runner.h"
#include "engine/live_stream.h"
#include "engine/notify_decider.h"
#include "engine/run_metrics.h"
#include "engine/run_recorder.h"
#include "engine/run_status.h"
#include "engine/schedule_book.h"
#include "engine/secret_params.h"
#include "engine/serve_api.h"
#include "engine/server_log.h"
#include "engine/trace_links.h"
#include "handoff/serve.h"
#include "metrics/registry.h"
#include "otlp/exporter.h"
#include "runner/registry.h"
#include "store/store.h"

namespace handoff {

struct ServeOptions {
  std::string environment;
  int max_concurrent_runs = 4;
  // How long a test asked to stop may take before it is killed (as run's --grace).
  std::chrono::milliseconds grace{std::chrono::seconds(5)};
  // Timeout of a test that sets none, as in run.
  std::chrono::milliseconds default_timeout{std::chrono::minutes(10)};
  // Runs created longer ago than this are deleted (0: kept forever).
  std::chrono::milliseconds retention{0};
  bool isolated = true;
  // How often the server checks that the store commits writes (readiness): a failed write
  // turns /readyz red at once, the first probe that commits turns it green again.
  std::chrono::milliseconds store_probe_interval{std::chrono::seconds(5)};
  // Where POST /api/v1/admin/backup writes its snapshots (created when needed).
  std::string backup_dir = "backups";
  // Params of every suite that are secret (--secret-params), besides each suite's own.
  SecretParamPatterns secret_params;
  // Where notifications go (issue 16), and the address users reach the UI at
  // (--external-url): every message links to the run there.
  std::vector<NotifyDestination> destinations;
  std::string external_url;
  DeliveryOptions delivery;
  // Replicas on a shared store (issue 17; store::Store::Shared): this replica's name (shown
  // as a run's `replica`), how long its lease on a run lasts unless renewed, how often it
  // claims queued runs, renews its leases and reads the schedules other replicas changed
  // (at most a third of the lease is used), and how often a live stream of a run another
  // replica executes reads the run's journal.
  std::string replica;
  std::chrono::milliseconds lease_ttl{std::chrono::seconds(15)};
  std::chrono::milliseconds poll_interval{std::chrono::seconds(1)};
  std::chrono::milliseconds live_poll_interval{std::chrono::milliseconds(200)};
  // Where the spans of every run go (--otlp-endpoint); null: not exported. The engine
  // shows its counts as metrics; its owner shuts it down after the engine.
  std::shared_ptr<otlp::Exporter> traces;
  // Where each attempt's traces and logs are (--traces-link-template,
  // --logs-link-template): the links the API and the UI show.
  LinkTemplate traces_link;
  LinkTemplate logs_link;
  // How long a run started with hold_on_failure holds its failed test at most (--max-hold).
  std::chrono::milliseconds max_hold{std::chrono::minutes(30)};
  // The wall clock schedules and retention read; tests inject their own.
  std::function<std::chrono::system_clock::time_point()> now = [] {
    return std::chrono::system_clock::now();
  };
};

class ServeEngine : public ServeApi {
 public:
  // `catalog`, `store` and `log` must outlive the engine.
  ServeEngine(const Catalog& catalog, store::Store& store, ServerLog& log,
              std::vector<Schedule> code_schedules, std::vector<std::shared_ptr<Hook>> hooks,
              ServeOptions options);
  ~ServeEngine() override;

  // Checks the schedules declared in code (a bad one is a configuration error: returns
  // false with *error), loads stored schedules, resumes runs that were running when the
  // server last stopped, queues the queued ones and starts the scheduler. Ready afterwards.
  bool Start(std::string* error);

  // Graceful shutdown: refuses new runs, lets running tests finish for up to `timeout`,
  // then stops the rest (those runs resume at the next start), stops the scheduler and
  // hooks, and waits for the store to commit everything.
  void Shutdown(std::chrono::milliseconds timeout);

  // Wakes the scheduler to re-read the clock (tests that move an injected clock).
  void PokeScheduler();

  // Adds the schedules declared in code to `book` as Start does, checking each: a suite of
  // `catalog`, a filter that selects tests, a good name, spec and time zone, no name twice.
  // The error names the schedule (`serve --check-config` reports it without a store).
  static Result<void> AddCodeSchedules(const Catalog& catalog,
                                       const std::vector<Schedule>& schedules,
                                       ScheduleBook& book, ScheduleBook::TimePoint now);

  // ServeApi
  std::vector<SuiteInfo> Suites() const override;
  Result<TriggeredRun> Trigger(const RunRequest& request) override;
  Result<store::Run> Ingest(const IngestRequest& request) override;
  Result<store::Run> Cancel(std::int64_t run_id) override;
  Result<store::Hunt> StartHunt(const HuntRequest& request) override;
  Result<store::Hunt> StopHunt(std::int64_t hunt_id, bool cancel, const std::string& by) override;
  Result<store::Run> Release(std::int64_t run_id) override;
  Result<store::Run> Retry(std::int64_t run_id, bool only_failed,
                           const std::string& initiated_by,
                           const std::string& on_behalf_of = "") override;
  std::vector<ScheduleInfo> Schedules() const override;
  Result<void> CreateSchedule(const store::StoredSchedule& schedule) override;
  Result<void> DeleteSchedule(const std::string& name) override;
  Result<void> PauseSchedule(const std::string& name, bool paused) override;
  std::shared_ptr<void> Subscribe(std::int64_t run_id, RunEventCallback callback) override;
  bool Ready() const override { return ready_.load() && store_writable_.load(); }
  std::string NotReadyReason() const override;
  Result<store::BackupInfo> Backup() override;
  std::string Metrics() const override;
  store::AttemptLinks LinksOf(const store::Run& run,
                              const store::Attempt& attempt) const override;

 private:
  struct ActiveRun;

  // Resolves which tests a request runs; kInvalid when it selects none or names an
  // unknown test.
  static Result<std::vector<std::string>> ResolveTests(const Suite& suite,
                                                       const RunRequest& request);
  // Checks that a schedule's suite exists and its filter compiles; kNotFound or kInvalid
  // otherwise.
  static Result<void> CheckScheduleTarget(const Catalog& catalog, const std::string& suite,
                                          const std::string& filter);
  std::shared_ptr<ActiveRun> MakeActive(const store::Run& run, std::int64_t last_seq);
  void Enqueue(std::shared_ptr<ActiveRun> run, bool front);
  // Starts queued runs while there is room. Called with mu_ held.
  void DispatchLocked();
  void Execute(std::shared_ptr<ActiveRun> run);
  // Records a change of the run's hold (a test held, or its hold ended): the run's status
  // (held, or running again) and its hold, committed and journaled like any run change.
  void RecordHold(ActiveRun& run, const store::RunHold& hold);
  // Records the run's final state: its totals over `final_rows` (every test of the run, as
  // committed, with those CancelUnfinished marked) and its status, decided by
  // DecideRunStatus from the totals and `ending`. Returns false if the final state did not
  // commit: then nothing says the run finished, it stays unfinished in the store (it
  // resumes at the next start) and the server is not ready until the store writes again.
  // `finished_at_ns`: when the run ended (0: now; an ingested run: when its report ends).
  bool FinishRun(ActiveRun& run, const RunEnding& ending, const std::string& error,
                 const std::vector<store::TestRow>& final_rows, std::int64_t finished_at_ns = 0);
  // Ingest (serve_ingest.cc). Returns the error of a trigger or schedule of `suite` if it is
  // ingest-only (it has nothing to run), else nullopt.
  std::optional<Error> IngestOnlyError(const std::string& suite) const;
  // Creates the ingest-only suite `name` on its first report (and its metrics' series).
  Result<void> AddIngestedSuite(const std::string& name);
  // Deletes what an ingest that could not be stored whole wrote of run `run_id`.
  void DiscardIngested(std::int64_t run_id, const std::string& why);
  // At start: deletes the ingested runs a stopped server left unfinished (it stopped, or
  // its writes failed, in the middle of an ingest), and notes the ingested suites' latest
  // runs in the metrics.
  void StartIngested();
  // Hunts (serve_hunts.cc). Takes the next step of hunt `hunt_id` once none of its runs is
  // unfinished (hunts.h): queues its next run or ends it. Called when a run of it finishes,
  // and for every running hunt at start and when the store writes again.
  void ContinueHunt(std::int64_t hunt_id);
  // ContinueHunt's step, with hunts_mu_ held: returns a run to cancel (0: none).
  std::int64_t StepHunt(std::int64_t hunt_id);
  void ContinueHunts();
  // A schedule that hunts fired: starts its hunt, unless its previous hunt is still running
  // (skipped, as a schedule's run is while its previous run has not finished).
  void FireHunt(const ScheduleBook::Firing& firing);
  // The request of the run a hunt starts after its run `after` (0: its first).
  static RunRequest HuntRunRequest(const store::Hunt& hunt, std::int64_t after);

  // The store failed to commit a write: log it and turn readiness red until a probe
  // commits again.
  void StoreWriteFailed(const std::string& what);
  // Probes the store every store_probe_interval; restarts queued runs when it recovers.
  void StoreProbeLoop();
  // Passes a commit to every observer.
  void OnCommitted(const Committed& committed, const std::shared_ptr<ActiveRun>& run);
  void AttachRunValue(std::int64_t run_id, std::string key, std::string value);
  void SchedulerLoop();
  // Sets the gauges of the unpaused schedules' next firings and longest gaps, and removes
  // those of schedules paused or deleted since.
  void UpdateScheduleMetrics() const;
  void Fire(const ScheduleBook::Firing& firing);
  void RetentionLoop();
  std::int64_t LastSeq(std::int64_t run_id);

  // Replicas (shared store only; serve_replicas.cc). Starts a claimed or queued run's
  // thread. Called with mu_ held.
  void StartLocked(const std::shared_ptr<ActiveRun>& run);
  // Claims, renews and reads schedules every poll_interval, or at once when woken.
  void ReplicaLoop();
  void WakeReplica();
  // Claims as many runs as this replica has room for, and starts them.
  void ClaimRuns();
  // Renews the leases of this replica's runs; stops a run another replica took over, and
  // cancels one cancelled on another replica.
  void RenewLeases();
  // Returns true if the run's lease is another replica's now (a failed write was fenced
  // off, not a store that cannot write); logs it once.
  bool LeaseLost(ActiveRun& run);
  // Brings the schedules in line with the store's (created, paused or deleted elsewhere).
  void SyncSchedules();
  // Sends the journal entries of runs executed elsewhere to this replica's subscribers.
  void LivePollLoop();
  // Stops this replica's runs once their leases may have run out (no renewal answered for
  // the ttl less a poll), without waiting on the database: another replica may claim them.
  void LeaseWatchdogLoop();
  // Stops every run of this replica: its lease is, or may be, another's.
  void StopLostRuns(std::string_view why);
  // Cancel on a shared store.
  Result<store::Run> CancelShared(std::int64_t run_id);
  // Release on a shared store of a held run another replica executes.
  Result<store::Run> ReleaseShared(const store::Run& run);

  const Catalog& catalog_;
  store::Store& store_;
  ServerLog& log_;
  std::vector<Schedule> code_schedules_;
  ServeOptions options_;

  metrics::Registry metrics_;
  metrics::Family<metrics::Gauge>* suites_running_;
  metrics::Family<metrics::Gauge>* queue_depth_;
  metrics::Family<metrics::Gauge>* runs_active_;
  metrics::Family<metrics::Histogram>* schedule_lag_;
  metrics::Family<metrics::Counter>* schedule_skipped_;
  metrics::Family<metrics::Counter>* hook_errors_;
  metrics::Family<metrics::Counter>* hook_dropped_;
  metrics::Family<metrics::Counter>* retention_deleted_;
  // --otlp-endpoint: spans the collector took, and those dropped (null without export).
  metrics::Family<metrics::Counter>* otlp_exported_ = nullptr;
  metrics::Family<metrics::Counter>* otlp_dropped_ = nullptr;
  metrics::Family<metrics::Gauge>* schedule_next_;
  metrics::Family<metrics::Gauge>* schedule_gap_;
  mutable std::mutex metrics_render_mu_;
  std::vector<std::unique_ptr<HookRunner>> hooks_;

  // What every commit of a run is passed to, in this order.
  LiveStream live_;
  std::unique_ptr<RunMetrics> run_metrics_;
  std::unique_ptr<HookObserver> hook_observer_;
  // Notifications: decided with each commit, sent by the worker (null without destinations).
  std::unique_ptr<NotifyDecider> decider_;
  std::unique_ptr<DeliveryWorker> deliveries_;
  std::vector<CommitObserver*> observers_;

  std::atomic<bool> ready_{false};
  // False from a failed store write until a probe commits; queued runs wait meanwhile.
  std::atomic<bool> store_writable_{true};
  mutable std::mutex store_error_mu_;
  std::string store_error_;  // why the store cannot write ("" while it can)
  std::thread store_probe_;
  std::mutex backup_mu_;  // one backup at a time
  std::atomic<bool> accepting_{false};

  mutable std::mutex mu_;  // the queue, the active runs, the idempotency guard
  std::condition_variable runs_changed_;
  std::deque<std::shared_ptr<ActiveRun>> queue_;
  std::unordered_map<std::int64_t, std::shared_ptr<ActiveRun>> active_;  // queued or running
  std::set<std::string> running_suites_;
  std::vector<std::thread> finished_threads_;
  std::map<std::int64_t, std::thread> run_threads_;
  int ingests_ = 0;  // Ingest calls in progress: Shutdown waits for them too
  std::mutex hunts_mu_;  // one step of a hunt at a time (of this server)
  bool draining_ = false;

  mutable std::mutex schedules_mu_;
  std::condition_variable schedules_changed_;
  ScheduleBook schedules_;
  bool stopping_ = false;
  std::thread scheduler_;
  std::thread retention_;

  // Replicas (shared store only).
  const bool shared_;
  std::string lead_holder_;  // this process, as the lead's holder
  std::atomic<bool> leading_{false};
  // Steady-clock nanoseconds until which this replica's lead certainly holds (the start of
  // the Lead call that kept it, plus the ttl less a poll): past it, it sends nothing.
  std::atomic<std::int64_t> lead_until_ns_{0};
  std::mutex replica_mu_;
  std::condition_variable replica_wake_;
  bool replica_poked_ = false;
  bool replica_stopping_ = false;
  // Steady-clock nanoseconds when the last renewal that answered began: the leases it
  // renewed last until then plus the ttl (the lease watchdog stops the runs a poll before).
  std::atomic<std::int64_t> renewed_at_ns_{0};
  std::thread lease_watchdog_;
  std::chrono::steady_clock::time_point schedules_synced_at_;
  std::thread replica_loop_;
  std::thread live_poll_;
};

}  // namespace handoff
