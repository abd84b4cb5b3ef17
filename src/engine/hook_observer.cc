#include "engine/hook_observer.h"

#include <utility>

namespace handoff {

RunInfo MakeRunInfo(const store::Run& r, const Totals& totals) {
  RunInfo info;
  info.id = r.id;
  info.suite = r.suite;
  info.namespace_name = r.namespace_name;
  info.status = store::RunStatusName(r.status);
  info.trigger = store::TriggerName(r.trigger);
  info.initiated_by = r.initiated_by;
  info.reference = r.reference;
  info.environment = r.environment;
  info.schedule = r.schedule;
  info.started_at_ns = r.started_at_ns;
  info.finished_at_ns = r.finished_at_ns;
  info.flaky = r.flaky;
  info.error = r.error;
  info.labels = r.labels;
  info.params = store::ShownParams(r);  // hooks post to other systems: never a secret
  info.values = r.values;
  info.tests_total = totals.total;
  info.tests_passed = totals.passed;
  info.tests_failed = totals.failed;
  info.tests_soft_failed = totals.soft_failed;
  info.tests_skipped = totals.skipped;
  info.tests_cancelled = totals.cancelled;
  info.tests_flaky = totals.flaky;
  return info;
}

TestInfo MakeTestInfo(const FinishedTest& test) {
  TestInfo info;
  info.name = test.row.name;
  info.status = store::TestStatusName(test.row.status);
  info.attempt = test.row.attempt;
  info.soft_failure = test.row.soft_failure;
  info.flaky = test.row.flaky;
  info.duration_ms = test.row.duration_ms;
  info.message = test.row.message;
  info.values = test.values;
  return info;
}

HookObserver::HookObserver(const std::vector<std::unique_ptr<HookRunner>>& hooks, Attach attach)
    : hooks_(hooks), attach_(std::move(attach)) {}

void HookObserver::OnCommitted(const RunKey& key, const Committed& committed) {
  if (hooks_.empty()) return;
  std::unique_lock lock(mu_);
  RunState& state = runs_[key.id];
  if (state.run.id == 0) {
    state.run.id = key.id;
    state.run.namespace_name = key.namespace_name;
    state.run.suite = key.suite;
  }
  // A run's status change comes after the tests of its commit (the journal's order).
  for (const FinishedTest& test : committed.finished) {
    state.totals.Add(store::VerdictOf(test.row));
    TestInfo info = MakeTestInfo(test);
    state.tests.push_back(info);
    RunInfo run = MakeRunInfo(state.run, state.totals);
    for (const auto& hook : hooks_) {
      hook->Post("OnTestFinished", [run, info](Hook& h) { h.OnTestFinished(run, info); });
    }
  }
  if (!committed.run) return;
  // A run that goes back to running after a hold (issue 21) started before.
  const bool started = committed.run->status == store::RunStatus::kRunning &&
                       state.run.status != store::RunStatus::kRunning &&
                       state.run.status != store::RunStatus::kHeld;
  state.run = *committed.run;
  if (started) {
    RunInfo info = MakeRunInfo(state.run, state.totals);
    for (const auto& hook : hooks_) {
      hook->Post("OnRunStarted", [info](Hook& h) { h.OnRunStarted(info); });
    }
  }
  if (!committed.run_finished) return;
  // The stored totals count every test of the run, also those of an earlier server's part.
  const RunInfo info = MakeRunInfo(state.run, state.run.totals.value_or(state.totals));
  const std::vector<TestInfo> tests = std::move(state.tests);
  runs_.erase(key.id);
  lock.unlock();
  const std::int64_t id = key.id;
  handoff::AttachValue attach = [attach = attach_, id](std::string k, std::string v) {
    attach(id, std::move(k), std::move(v));
  };
  for (const auto& hook : hooks_) {
    hook->Post("OnRunFinished",
               [info, tests, attach](Hook& h) { h.OnRunFinished(info, tests, attach); });
  }
}

}  // namespace handoff
