// Ingest (issue 20, section 2): a report produced elsewhere stored as a run of a suite. The
// report is read and checked before it gets here (ingest/collect.h); its events then take
// the path of every run's events, through the run's RunRecorder and FinishRun, so that its
// tests are marked against the previous run, notify, count in the metrics and stream live
// like any other. What is written is written whole or not at all: a write that fails
// deletes the run, and the observers hear of it only once its final state is committed.

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <string_view>

#include "engine/active_run.h"
#include "engine/serve_engine.h"

namespace handoff {
namespace {

constexpr std::size_t kMaxSuiteNameLength = 128;
// On a shared store, an unfinished ingested run older than this was left by a replica that
// stopped in the middle of it (an ingest takes well under a second); a younger one may be
// another replica's, in progress.
constexpr auto kIngestLeftoverAge = std::chrono::minutes(10);

}  // namespace

std::string IngestSuiteNameError(std::string_view name) {
  if (name.empty()) return "suite: the name must not be empty";
  if (name.size() > kMaxSuiteNameLength) {
    return fmt::format("suite: a name has at most {} characters, got {}", kMaxSuiteNameLength,
                       name.size());
  }
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-') {
      return fmt::format("suite: {:?} may hold only ASCII letters, digits, '.', '_' and '-'",
                         std::string(name));
    }
  }
  return {};
}

std::optional<Error> ServeEngine::IngestOnlyError(const std::string& suite) const {
  const std::vector<store::IngestedSuite> ingested = store_.ListIngestedSuites();
  if (std::none_of(ingested.begin(), ingested.end(),
                   [&](const store::IngestedSuite& s) { return s.name == suite; })) {
    return std::nullopt;
  }
  return Error{ErrorCode::kConflict,
               fmt::format("suite \"{}\" only has ingested runs: it has no command to run "
                           "(send its reports to POST /api/v1/suites/{}/ingest)",
                           suite, suite)};
}

Result<void> ServeEngine::AddIngestedSuite(const std::string& name) {
  if (Result<void> added = store_.AddIngestedSuite({name, NowNs()}); !added.ok()) {
    StoreWriteFailed(fmt::format("suite \"{}\" of an ingested report could not be stored", name));
    return added;
  }
  run_metrics_->AddSuite("", name);
  return {};
}

void ServeEngine::StartIngested() {
  for (const store::IngestedSuite& s : store_.ListIngestedSuites()) {
    if (catalog_.Find(s.name) != nullptr) continue;
    run_metrics_->AddSuite("", s.name);
    for (const store::Run& run : store_.LastRuns(s.name, 8)) {
      run_metrics_->NoteRunFinished("", s.name, run.status, run.finished_at_ns);
    }
  }
  const std::int64_t cutoff =
      NowNs() - std::chrono::duration_cast<std::chrono::nanoseconds>(kIngestLeftoverAge).count();
  for (const store::Run& run :
       store_.RunsWithStatus({store::RunStatus::kQueued, store::RunStatus::kRunning})) {
    if (run.trigger != store::Trigger::kIngest || (shared_ && run.created_at_ns > cutoff)) {
      continue;
    }
    DiscardIngested(run.id, "the server stopped before the ingested report was stored whole");
  }
}

void ServeEngine::DiscardIngested(std::int64_t run_id, const std::string& why) {
  if (Result<void> deleted = store_.DeleteRun(run_id); !deleted.ok()) {
    log_.Error("ingested run not deleted: it is deleted at the next start",
               {{"run", std::to_string(run_id)}, {"why", why}, {"error", deleted.error().message}});
    return;
  }
  log_.Warn("ingested run deleted: it could not be stored whole",
            {{"run", std::to_string(run_id)}, {"why", why}});
}

Result<store::Run> ServeEngine::Ingest(const IngestRequest& request) {
  {
    std::lock_guard lock(mu_);
    if (!accepting_.load()) return Error{ErrorCode::kUnavailable, "the server is shutting down"};
    ++ingests_;
  }
  // Shutdown waits for the ingests in progress, as for the runs.
  struct Done {
    ServeEngine& engine;
    ~Done() {
      std::lock_guard lock(engine.mu_);
      --engine.ingests_;
      engine.runs_changed_.notify_all();
    }
  } done{*this};
  const Suite* suite = catalog_.Find(request.suite);
  if (suite == nullptr) {
    if (std::string why = IngestSuiteNameError(request.suite); !why.empty()) {
      return Error{ErrorCode::kInvalid, std::move(why)};
    }
    if (Result<void> added = AddIngestedSuite(request.suite); !added.ok()) {
      return Error{ErrorCode::kUnavailable,
                   "the report could not be stored: the store cannot write (see /readyz); "
                   "nothing was stored, try again later"};
    }
  }
  const auto unavailable = [] {
    return Error{ErrorCode::kUnavailable,
                 "the report could not be stored: the store cannot write (see /readyz); "
                 "nothing of it was kept, try again later"};
  };

  store::Run run;
  run.suite = request.suite;
  run.namespace_name = suite != nullptr ? suite->namespace_name : "";
  run.status = store::RunStatus::kRunning;
  run.trigger = store::Trigger::kIngest;
  run.initiated_by = request.initiated_by;
  run.on_behalf_of = request.on_behalf_of;
  run.reference = request.reference;
  run.environment = request.environment.empty() ? options_.environment : request.environment;
  run.started_at_ns = request.started_at_ns;
  Result<store::CreatedRun> stored = store_.CreateRun(std::move(run), request.tests);
  if (!stored.ok()) {
    StoreWriteFailed(fmt::format("an ingested run of suite \"{}\" could not be stored",
                                 request.suite));
    return unavailable();
  }
  const store::Run& created = stored->run;
  const std::int64_t id = created.id;

  std::shared_ptr<ActiveRun> active = MakeActive(created, 0);
  active->held.emplace();
  RunRecorder& recorder = *active->recorder;
  const std::uint64_t failed_before = recorder.failed_writes();
  store::RunUpdate none;
  none.id = id;
  recorder.UpdateRun(none, created,
                     decider_ ? decider_->RunStarted(created) : std::vector<store::Delivery>{});
  // The report's events as a worker's would come: within the suite's start and end.
  Event started;
  started.kind = EventKind::kSuiteStarted;
  started.suite = created.suite;
  started.text = created.namespace_name;
  started.time_ns = request.started_at_ns;
  recorder.OnEvent(started);
  for (Event e : request.events) {
    e.suite = created.suite;
    recorder.OnEvent(e);
  }
  Event finished;
  finished.kind = EventKind::kSuiteFinished;
  finished.suite = created.suite;
  finished.status = request.suite_failed ? Status::kFailed : Status::kPassed;
  finished.time_ns = request.finished_at_ns;
  finished.elapsed_ns = request.finished_at_ns - request.started_at_ns;
  recorder.OnEvent(finished);
  recorder.Flush();
  store_.Sync();
  if (recorder.failed_writes() != failed_before) {
    StoreWriteFailed(fmt::format("the tests of ingested run {} could not be stored", id));
    DiscardIngested(id, "its tests could not be stored");
    return unavailable();
  }

  RunEnding ending;
  ending.suite_failed = request.suite_failed;
  // What failed outside the tests, on its first line (its output is the suite's).
  std::string error = recorder.setup_error();
  error = error.substr(0, error.find('\n'));
  if (!FinishRun(*active, ending, error, store_.GetTests(id), request.finished_at_ns)) {
    DiscardIngested(id, "its final state could not be stored");
    return unavailable();
  }
  std::vector<Committed> held;
  {
    std::lock_guard lock(active->held_mu);
    held = std::move(*active->held);
    active->held.reset();
  }
  for (const Committed& committed : held) OnCommitted(committed, active);
  log_.Info("report ingested", {{"run", std::to_string(id)},
                                {"suite", created.suite},
                                {"tests", std::to_string(request.tests.size())}});
  std::lock_guard lock(active->mu);
  return active->run;
}

}  // namespace handoff
