#include "engine/run_engine.h"

#include <mutex>
#include <thread>

#include "handoff/external.h"
#include "worker/supervisor.h"

namespace handoff {
SuiteJob MakeSuiteJob(const Suite& suite, const std::vector<const Test*>& tests,
                      const RunOptions& options) {
  SuiteJob job;
  job.suite = &suite;
  wire::WorkerPlan& plan = job.plan;
  plan.suite = suite.name;
  plan.max_attempts = options.attempts > 0 ? options.attempts : suite.max_attempts;
  auto resolve = [&](std::chrono::milliseconds own) {
    if (options.timeout.count() > 0) return options.timeout;
    if (own.count() > 0) return own;
    if (suite.timeout.count() > 0) return suite.timeout;
    return options.default_timeout;
  };
  plan.hook_timeout_ms = resolve(std::chrono::milliseconds(0)).count();
  plan.timeout_cap_ms = options.timeout.count();
  plan.tests.reserve(tests.size());
  for (const Test* test : tests) {
    plan.tests.push_back(wire::PlannedTest{test->name, 1, resolve(test->timeout).count()});
  }
  plan.run_pattern = options.run_pattern;
  plan.skip_pattern = options.skip_pattern;
  plan.fail_fast = options.fail_fast;
  plan.assess_pattern = options.assess_pattern;
  plan.skip_assess_pattern = options.skip_assess_pattern;
  plan.parallel = options.parallel;
  plan.hold_on_failure = options.hold_on_failure;
  plan.max_hold_ms = options.max_hold.count();
  if (options.gtest_filter) {
    plan.gtest = true;
    plan.gtest_run_disabled = options.gtest_filter->run_disabled();
    plan.gtest_filter = options.gtest_filter->text();
  }
  if (suite.external) {
    const ExternalCommand& command = *suite.external;
    wire::ExternalPlan& x = plan.external.emplace();
    x.command = command.command;
    x.working_dir = command.working_dir;
    x.env.assign(command.env.begin(), command.env.end());
    x.format = static_cast<std::uint8_t>(command.format);
    x.tool = static_cast<std::uint8_t>(command.tool);
    x.report_file = command.report_file;
    x.grace_ms = options.grace.count();
  }
  job.grace = options.grace;
  job.isolated = options.isolated;
  job.release = options.release;
  return job;
}

Status RunSuites(const std::vector<SelectedSuite>& suites, const RunOptions& options,
                 EventSink& sink, const std::atomic<bool>& cancel) {
  const auto start = std::chrono::steady_clock::now();
  Event started;
  started.kind = EventKind::kRunStarted;
  started.time_ns = NowNs();
  sink.OnEvent(started);

  std::vector<SuiteJob> jobs;
  for (const SelectedSuite& s : suites) jobs.push_back(MakeSuiteJob(*s.suite, s.tests, options));

  std::atomic<bool> failed{false};
  for (int round = 0; round < options.repeat; ++round) {
    if (cancel.load() || (options.fail_fast && failed.load())) break;
    std::mutex mu;
    std::size_t next = 0;
    auto work = [&] {
      while (true) {
        std::size_t i;
        {
          std::lock_guard lock(mu);
          if (next >= jobs.size()) return;
          i = next++;
        }
        // --fail-fast: no new suite starts after a failure.
        if (cancel.load() || (options.fail_fast && failed.load())) return;
        if (RunSuite(jobs[i], sink, cancel) == Status::kFailed) failed.store(true);
      }
    };
    const int threads = std::min<int>(options.jobs, static_cast<int>(jobs.size()));
    if (threads <= 1) {
      work();
    } else {
      std::vector<std::thread> pool;
      for (int i = 0; i < threads; ++i) pool.emplace_back(work);
      for (std::thread& t : pool) t.join();
    }
  }

  Event finished;
  finished.kind = EventKind::kRunFinished;
  finished.time_ns = NowNs();
  finished.status = failed.load() || cancel.load() ? Status::kFailed : Status::kPassed;
  if (cancel.load()) {
    finished.text = "interrupted: tests that had not started were not run";
  } else if (options.fail_fast && failed.load()) {
    finished.text = "stopped at the first failure (--fail-fast): tests that had not started were not run";
  }
  finished.elapsed_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
  sink.OnEvent(finished);
  return finished.status;
}

void DryRunSuites(const std::vector<SelectedSuite>& suites, const SelectionOptions& selection,
                  EventSink& sink) {
  auto make = [](EventKind kind, const std::string& suite, const std::string& test) {
    Event e;
    e.kind = kind;
    e.time_ns = NowNs();
    e.suite = suite;
    e.test = test;
    e.attempt = test.empty() ? 0 : 1;
    e.status = Status::kSkipped;
    return e;
  };
  auto skip = [&](const std::string& suite, const std::string& test) {
    Event reason = make(EventKind::kSkip, suite, test);
    reason.text = "dry run";
    sink.OnEvent(reason);
  };
  const SubtestSelector subtests(selection);
  Event started = make(EventKind::kRunStarted, "", "");
  sink.OnEvent(started);
  for (const SelectedSuite& selected : suites) {
    const Suite& suite = *selected.suite;
    Event suite_started = make(EventKind::kSuiteStarted, suite.name, "");
    suite_started.text = suite.namespace_name;
    sink.OnEvent(suite_started);
    for (const Test* test : selected.tests) {
      sink.OnEvent(make(EventKind::kTestStarted, suite.name, test->name));
      for (const std::string& sub : subtests.Of(*test, suite.name)) {
        const std::string full = test->name + "/" + sub;
        sink.OnEvent(make(EventKind::kTestStarted, suite.name, full));
        skip(suite.name, full);
        sink.OnEvent(make(EventKind::kTestFinished, suite.name, full));
      }
      skip(suite.name, test->name);
      sink.OnEvent(make(EventKind::kAttemptFinished, suite.name, test->name));
      sink.OnEvent(make(EventKind::kTestFinished, suite.name, test->name));
    }
    Event suite_finished = make(EventKind::kSuiteFinished, suite.name, "");
    suite_finished.status = Status::kPassed;
    sink.OnEvent(suite_finished);
  }
  Event finished = make(EventKind::kRunFinished, "", "");
  finished.status = Status::kPassed;
  sink.OnEvent(finished);
}

}  // namespace handoff
