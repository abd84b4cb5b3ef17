#pragma once

// Features and steps, the model of Kubernetes' e2e-framework, on top of suites and T.
//
// A Feature is one test made of named steps: Setup steps, Assess steps (each run as a
// subtest "Feature/description", so --run and --assess select them) and Teardown steps
// (run even when an assessment failed fatally). Every step receives a Context (the
// test's cancellation plus typed values) and may return an updated one, which the
// next step receives, as each step of e2e-framework returns a new context.Context.
//
// An Environment is a suite of features with lifecycle functions: Setup once before
// any feature, BeforeEachTest/BeforeEachFeature and their After forms around each
// test, and Finish once at the end, always, even after failures.
//
//   inline const handoff::ContextKey<std::string> kNamespace{"namespace"};
//
//   handoff::Environment env("Cluster");
//   env.Setup([](handoff::Context ctx, handoff::T& t) {
//     return ctx.WithValue(kNamespace, CreateNamespace(t));
//   });
//   env.Finish([](handoff::Context ctx, handoff::T& t) { DeleteNamespace(t, *ctx.Value(kNamespace)); });
//   env.Test(handoff::Feature("Deploy")
//                .Label("type", "apps")
//                .Assess("pods start", [](handoff::Context ctx, handoff::T& t) { ... }));
//   static const bool kRegistered = handoff::Register(env);

#include <chrono>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <source_location>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "handoff/context.h"
#include "handoff/suite.h"
#include "handoff/t.h"

namespace handoff {

// What a step does: it receives the context and the T of the test (or assessment) it
// runs in, and returns the context the next step receives.
using StepFunc = std::function<Context(Context, T&)>;

// A step function in any of the shapes test authors write; each becomes a StepFunc.
//   [](handoff::Context ctx, handoff::T& t) -> handoff::Context { ...; return ctx; }
//   [](handoff::Context ctx, handoff::T& t) { ... }   // passes the context on unchanged
//   [](handoff::T& t) { ... }                         // does not use the context
class Step {
 public:
  template <typename F>
    requires std::is_convertible_v<std::invoke_result_t<F&, Context, T&>, Context>
  Step(F fn) : fn_(std::move(fn)) {}  // NOLINT(google-explicit-constructor)

  template <typename F>
    requires std::is_void_v<std::invoke_result_t<F&, Context, T&>>
  Step(F fn)  // NOLINT(google-explicit-constructor)
      : fn_([fn = std::move(fn)](Context ctx, T& t) mutable {
          fn(ctx, t);
          return ctx;
        }) {}

  template <typename F>
    requires(!std::is_invocable_v<F&, Context, T&> && std::is_invocable_v<F&, T&>)
  Step(F fn)  // NOLINT(google-explicit-constructor)
      : fn_([fn = std::move(fn)](Context ctx, T& t) mutable {
          fn(t);
          return ctx;
        }) {}

  const StepFunc& fn() const { return fn_; }

 private:
  StepFunc fn_;
};

// The level of a step in a feature.
enum class StepLevel { kSetup, kAssess, kTeardown };

// A feature under construction: chain Label, Setup, Assess, Teardown and WithStep, then
// add it to an Environment (or turn it into a plain Test with ToTest()). Steps of a level
// run in the order they were added: all setups, then the assessments, then the
// teardowns.
//
// How a feature runs, as one test named after it:
//   - Setup steps run in order in the feature's T. If one stops the test (Fatal,
//     FailNow, an exception), the assessments do not run; the teardowns still do.
//   - Each assessment runs as a subtest "Feature/description". A failure in one does not
//     stop the next; Fatal stops only that assessment.
//   - Teardown steps always run, in order, each even if an earlier one failed, except
//     under `run --fail-fast` after a failure: then they are left undone, with the state
//     they would have removed, for debugging.
//   - The context flows through all of them: setups, then assessments in order, then
//     teardowns.
class Feature {
 public:
  // `where` (the caller's file:line) is where the feature's own log lines point.
  explicit Feature(std::string name,
                   std::source_location where = std::source_location::current());

  // Adds a label; --labels and --skip-labels match it, and CTest gets "key=value" as a
  // LABEL. A second label with the same key replaces the first.
  Feature& Label(std::string key, std::string value);
  // Sets the feature's timeout (zero: the suite's or the command line's).
  Feature& Timeout(std::chrono::milliseconds timeout);

  Feature& Setup(Step fn) { return WithStep("setup", StepLevel::kSetup, std::move(fn)); }
  Feature& Assess(std::string description, Step fn) {
    return WithStep(std::move(description), StepLevel::kAssess, std::move(fn));
  }
  Feature& Teardown(Step fn) { return WithStep("teardown", StepLevel::kTeardown, std::move(fn)); }
  Feature& WithSetup(std::string name, Step fn) {
    return WithStep(std::move(name), StepLevel::kSetup, std::move(fn));
  }
  Feature& WithTeardown(std::string name, Step fn) {
    return WithStep(std::move(name), StepLevel::kTeardown, std::move(fn));
  }
  // Adds a step at `level`; for kAssess, `name` is the assessment's description.
  Feature& WithStep(std::string name, StepLevel level, Step fn);

  const std::string& name() const { return name_; }
  const std::map<std::string, std::string>& labels() const { return labels_; }

  // Returns the feature as a test with no environment around it (the context starts
  // empty, with the test's cancellation). Environment::Test adds the lifecycle.
  handoff::Test ToTest() const;

 // Internal: one step as added.
  struct StepDef {
    std::string name;
    StepLevel level;
    StepFunc fn;
  };

 private:
  friend class Environment;
  std::string name_;
  std::map<std::string, std::string> labels_;
  std::chrono::milliseconds timeout_{0};
  std::vector<StepDef> steps_;
  std::source_location where_;
};

// A features table: rows that each become one assessment of a single feature.
//   handoff::FeatureTable{
//       {"lists pods", ListsPods},
//       {"reads logs", ReadsLogs},
//   }.Build("Pods")
struct FeatureRow {
  std::string name;
  Step assessment;
  // Labels added to the feature built from the table.
  std::map<std::string, std::string> labels = {};
};

class FeatureTable {
 public:
  FeatureTable(std::initializer_list<FeatureRow> rows) : rows_(rows) {}
  explicit FeatureTable(std::vector<FeatureRow> rows) : rows_(std::move(rows)) {}
  // Returns a feature named `name` with one assessment per row, in row order.
  Feature Build(std::string name,
                std::source_location where = std::source_location::current()) const;

 private:
  std::vector<FeatureRow> rows_;
};

// What the Before/AfterEachFeature functions learn about the feature they surround.
struct FeatureInfo {
  std::string name;
  std::map<std::string, std::string> labels;
  std::vector<std::string> assessments;
};

// A lifecycle function of an Environment: like a Step, it returns the context that
// flows on.
using EnvFunc = std::function<Context(Context, T&)>;
using FeatureEnvFunc = std::function<Context(Context, T&, const FeatureInfo&)>;

// A lifecycle function around features, in any of the shapes of Step plus the forms
// that receive the feature's FeatureInfo.
class FeatureStep {
 public:
  template <typename F>
    requires std::is_convertible_v<std::invoke_result_t<F&, Context, T&, const FeatureInfo&>,
                                   Context>
  FeatureStep(F fn) : fn_(std::move(fn)) {}  // NOLINT(google-explicit-constructor)

  template <typename F>
    requires std::is_void_v<std::invoke_result_t<F&, Context, T&, const FeatureInfo&>>
  FeatureStep(F fn)  // NOLINT(google-explicit-constructor)
      : fn_([fn = std::move(fn)](Context ctx, T& t, const FeatureInfo& f) mutable {
          fn(ctx, t, f);
          return ctx;
        }) {}

  template <typename F>
    requires(!std::is_invocable_v<F&, Context, T&, const FeatureInfo&> &&
             std::is_constructible_v<Step, F>)
  FeatureStep(F fn)  // NOLINT(google-explicit-constructor)
      : fn_([step = Step(std::move(fn))](Context ctx, T& t, const FeatureInfo&) {
          return step.fn()(std::move(ctx), t);
        }) {}

  const FeatureEnvFunc& fn() const { return fn_; }

 private:
  FeatureEnvFunc fn_;
};

// A suite of features (and plain tests) with a lifecycle, in the e2e-framework model.
//
// Order, in each worker process that runs the suite:
//   Setup (once, as the suite's setup; if it fails, every test is skipped)
//   for each test:  BeforeEachTest, [BeforeEachFeature, the feature's steps,
//                   AfterEachFeature], AfterEachTest
//   Finish (once, as the suite's teardown: always, even after failures)
// Each test starts from the context Setup returned; what its Before functions return
// flows into its steps, and what its steps return flows into its After functions.
// AfterEachTest always runs, and AfterEachFeature whenever BeforeEachFeature was reached,
// even after failures, except under `run --fail-fast` after a failure (the state is kept
// for debugging).
// Contexts returned by one test never reach another, so tests may run concurrently
// (`run --parallel`).
class Environment {
 public:
  explicit Environment(std::string suite_name);

  // Options of the underlying suite: namespace, description, labels, timeout, attempts.
  // (Its setup, teardown and tests belong to the environment.)
  Suite& options() { return suite_; }

  Environment& Setup(Step fn);
  Environment& BeforeEachTest(Step fn);
  Environment& AfterEachTest(Step fn);
  Environment& BeforeEachFeature(FeatureStep fn);
  Environment& AfterEachFeature(FeatureStep fn);
  Environment& Finish(Step fn);

  // Adds features, run in the order added.
  template <typename... Features>
    requires(std::is_convertible_v<Features, const Feature&> && ...)
  Environment& Test(const Feature& first, const Features&... rest) {
    AddFeature(first);
    (AddFeature(rest), ...);
    return *this;
  }
  // Adds a plain test that receives the environment's context (BeforeEachTest and
  // AfterEachTest surround it; the feature functions do not).
  Environment& Test(std::string name, Step fn);

  // Returns the suite to register: handoff::Register(env) or WithSuites({env}).
  Suite Build() const;
  operator Suite() const { return Build(); }  // NOLINT(google-explicit-constructor)

  // Internal: the lifecycle functions and the context Setup returned, shared by the
  // suite's tests.
  struct State;

 private:
  void AddFeature(const Feature& feature);
  Suite suite_;
  std::shared_ptr<State> state_;
};

}  // namespace handoff
