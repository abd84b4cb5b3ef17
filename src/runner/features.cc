// Features, feature tables and environments (handoff/features.h): how their steps and
// lifecycle functions run inside one test.

#include "handoff/features.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>

#include "runner/selection.h"
#include "handoff/internal/hooks.h"
#include "runner/runner.h"

namespace handoff {

using internal::TestState;

struct Environment::State {
  std::vector<StepFunc> setup, before_test, after_test, finish;
  std::vector<FeatureEnvFunc> before_feature, after_feature;

  // What Setup returned, in this worker process; every test starts from it.
  std::mutex mu;
  Context context;

  Context Current() {
    std::lock_guard lock(mu);
    return context;
  }
  void Store(Context ctx) {
    std::lock_guard lock(mu);
    context = std::move(ctx);
  }
};

namespace {

// Runs fn in t and returns true if it returned normally: false after Fatal, FailNow,
// Skip or an exception (recorded as a failure of t by RunGuarded).
bool RunStep(T& t, const std::function<void(T&)>& fn) {
  bool completed = false;
  internal::RunGuarded(t, *internal::StateOf(t), [&](T& inner) {
    fn(inner);
    completed = true;
  });
  return completed;
}

// Runs a feature in t: its setups, assessments and teardowns, surrounded by the
// environment's functions when `env` is set.
void RunFeature(const std::string& name, const std::map<std::string, std::string>& labels,
                const std::vector<Feature::StepDef>& steps, const std::source_location& where,
                Environment::State* env, T& t) {
  TestState* state = internal::StateOf(t);
  internal::SuiteRunScope* scope = state->scope;
  Context ctx = (env != nullptr ? env->Current() : Context()).WithCancellation(t.Context());

  FeatureInfo info{name, labels, {}};
  for (const Feature::StepDef& step : steps) {
    if (step.level == StepLevel::kAssess) info.assessments.push_back(step.name);
  }

  // AfterEachTest always runs; AfterEachFeature runs once its Before phase was reached
  // (every BeforeEachTest returned), even if a BeforeEachFeature failed.
  bool go_on = true, feature_phase = env == nullptr;
  if (env != nullptr) {
    for (const StepFunc& fn : env->before_test) {
      if (!(go_on = RunStep(t, [&](T& tt) { ctx = fn(ctx, tt); }))) break;
    }
    feature_phase = go_on;
    for (std::size_t i = 0; go_on && i < env->before_feature.size(); ++i) {
      go_on = RunStep(t, [&](T& tt) { ctx = env->before_feature[i](ctx, tt, info); });
    }
  }

  for (const Feature::StepDef& step : steps) {
    if (!go_on) break;
    if (step.level == StepLevel::kSetup) go_on = RunStep(t, [&](T& tt) { ctx = step.fn(ctx, tt); });
  }
  // A setup that failed without stopping (t.Error) leaves the assessments to run, as
  // Go's Error does; --fail-fast stops at any failure.
  if (scope->fail_fast && t.Failed()) go_on = false;

  for (const Feature::StepDef& step : steps) {
    if (!go_on) break;
    if (step.level != StepLevel::kAssess) continue;
    if (t.Context().StopRequested()) break;
    const std::string sub = internal::RewriteSubtestName(step.name);
    if (scope->assessments && !scope->assessments->Selects(sub)) continue;
    t.Run(step.name, [&](T& at) {
      Context next = step.fn(ctx.WithCancellation(at.Context()), at);
      ctx = next.WithCancellation(t.Context());
    });
    if (scope->fail_fast && t.Failed()) break;
  }

  if (scope->fail_fast && t.Failed()) {
    internal::LogAt(t,
                    fmt::format("--fail-fast: feature \"{}\" failed; its teardown and After "
                                "functions were not run, so what it set up is left for debugging",
                                name),
                    where.file_name(), static_cast<int>(where.line()));
    return;
  }
  // Teardowns: every one runs, whatever happened before.
  for (const Feature::StepDef& step : steps) {
    if (step.level == StepLevel::kTeardown) RunStep(t, [&](T& tt) { ctx = step.fn(ctx, tt); });
  }
  if (env != nullptr) {
    if (feature_phase) {
      for (const FeatureEnvFunc& fn : env->after_feature) {
        RunStep(t, [&](T& tt) { ctx = fn(ctx, tt, info); });
      }
    }
    for (const StepFunc& fn : env->after_test) RunStep(t, [&](T& tt) { ctx = fn(ctx, tt); });
  }
}

// Go's rewrite plus its "#01" suffix for repeated names: what the reports will show.
std::vector<std::string> ListedNames(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  std::vector<std::string> seen;
  for (const std::string& name : names) {
    std::string base = internal::RewriteSubtestName(name);
    int dup = static_cast<int>(std::count(seen.begin(), seen.end(), base));
    seen.push_back(base);
    if (dup > 0) base += fmt::format("#{:02d}", dup);
    out.push_back(std::move(base));
  }
  return out;
}

Test MakeFeatureTest(const std::string& name,
                     const std::map<std::string, std::string>& labels,
                     std::chrono::milliseconds timeout,
                     const std::vector<Feature::StepDef>& steps,
                     const std::source_location& where,
                     std::shared_ptr<Environment::State> env) {
  Test test;
  test.name = name;
  test.labels = labels;
  test.timeout = timeout;
  test.feature = true;
  std::vector<std::string> assessments;
  for (const Feature::StepDef& step : steps) {
    if (step.level == StepLevel::kAssess) assessments.push_back(step.name);
  }
  test.subtests = ListedNames(assessments);
  test.fn = [name, labels, steps, where, env = std::move(env)](T& t) {
    RunFeature(name, labels, steps, where, env.get(), t);
  };
  return test;
}

}  // namespace

Feature::Feature(std::string name, std::source_location where)
    : name_(std::move(name)), where_(where) {}

Feature& Feature::Label(std::string key, std::string value) {
  labels_[std::move(key)] = std::move(value);
  return *this;
}

Feature& Feature::Timeout(std::chrono::milliseconds timeout) {
  timeout_ = timeout;
  return *this;
}

Feature& Feature::WithStep(std::string name, StepLevel level, Step fn) {
  steps_.push_back(StepDef{std::move(name), level, fn.fn()});
  return *this;
}

Test Feature::ToTest() const {
  return MakeFeatureTest(name_, labels_, timeout_, steps_, where_, nullptr);
}

Feature FeatureTable::Build(std::string name, std::source_location where) const {
  Feature feature(std::move(name), where);
  for (const FeatureRow& row : rows_) {
    for (const auto& [k, v] : row.labels) feature.Label(k, v);
    feature.Assess(row.name, row.assessment);
  }
  return feature;
}

Environment::Environment(std::string suite_name) : state_(std::make_shared<State>()) {
  suite_.name = std::move(suite_name);
}

Environment& Environment::Setup(Step fn) {
  state_->setup.push_back(fn.fn());
  return *this;
}
Environment& Environment::BeforeEachTest(Step fn) {
  state_->before_test.push_back(fn.fn());
  return *this;
}
Environment& Environment::AfterEachTest(Step fn) {
  state_->after_test.push_back(fn.fn());
  return *this;
}
Environment& Environment::BeforeEachFeature(FeatureStep fn) {
  state_->before_feature.push_back(fn.fn());
  return *this;
}
Environment& Environment::AfterEachFeature(FeatureStep fn) {
  state_->after_feature.push_back(fn.fn());
  return *this;
}
Environment& Environment::Finish(Step fn) {
  state_->finish.push_back(fn.fn());
  return *this;
}

void Environment::AddFeature(const Feature& feature) {
  suite_.tests.push_back(MakeFeatureTest(feature.name_, feature.labels_,
                                         feature.timeout_, feature.steps_, feature.where_,
                                         state_));
}

Environment& Environment::Test(std::string name, Step fn) {
  handoff::Test test;
  test.name = std::move(name);
  test.fn = [env = state_, fn = fn.fn()](T& t) {
    Context ctx = env->Current().WithCancellation(t.Context());
    bool go_on = true;
    for (const StepFunc& before : env->before_test) {
      if (!(go_on = RunStep(t, [&](T& tt) { ctx = before(ctx, tt); }))) break;
    }
    if (go_on) RunStep(t, [&](T& tt) { ctx = fn(ctx, tt); });
    if (internal::StateOf(t)->scope->fail_fast && t.Failed()) return;
    for (const StepFunc& after : env->after_test) RunStep(t, [&](T& tt) { ctx = after(ctx, tt); });
  };
  suite_.tests.push_back(std::move(test));
  return *this;
}

Suite Environment::Build() const {
  Suite suite = suite_;
  std::shared_ptr<State> env = state_;
  if (!env->setup.empty()) {
    // Each function's context is kept as soon as it returns, so Finish can undo what
    // the functions before a failing one did.
    suite.setup = [env](T& t) {
      Context ctx = Context().WithCancellation(t.Context());
      env->Store(ctx);
      for (const StepFunc& fn : env->setup) {
        ctx = fn(ctx, t);
        env->Store(ctx);
      }
    };
  }
  if (!env->finish.empty()) {
    suite.teardown = [env](T& t) {
      Context ctx = env->Current().WithCancellation(t.Context());
      for (const StepFunc& fn : env->finish) RunStep(t, [&](T& tt) { ctx = fn(ctx, tt); });
    };
  }
  return suite;
}

}  // namespace handoff
