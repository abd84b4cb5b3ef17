#pragma once

// Parametrized suites: the same tests run against several implementations or
// configurations (X tests x Y parameters), each combination named Suite/Param/Test.
//
//   static const bool kRegistered = handoff::Register(
//       handoff::ParamSuite<KvStore>("KvStore")
//           .Param("memory", [] { return std::make_unique<MemoryStore>(); })
//           .Param("files", [](handoff::T& t) { return std::make_unique<FileStore>(t.TempDir()); })
//           .Test("PutThenGet", [](handoff::T& t, KvStore& store) { ... })
//           .Test("DeleteRemoves", [](handoff::T& t, KvStore& store) { ... }));
//
// What it builds is a plain handoff::Suite named "KvStore", with one test per parameter
// ("memory", "files"). Each of those runs every test, in the order added, as a subtest
// ("memory/PutThenGet"), so reports show KvStore/memory/PutThenGet and the command line
// selects as go test does: --run 'memory/Put' (the Put tests on memory), --run '/Put'
// (the Put tests on every parameter), --run '^files$' (everything on files). Each
// parameter's test lists its tests as `subtests`, so `list` and `run --dry-run` show every
// combination before anything runs.
//
// A fresh instance per subtest: the parameter's factory is called in the subtest, with
// the subtest's T, right before the test function; the instance is destroyed when the
// subtest's cleanups run, after the cleanups the test registered (which may still use
// it) and before those the factory registered (a TempDir it writes into), so before
// the next subtest starts. A factory that fails (Fatal, an exception, a null pointer)
// fails that subtest only; the other tests of the parameter still run.
//
// Names follow go's subtest rewrite: spaces become '_' ("in memory" is "in_memory").
// Invalid definitions fail clearly: a suite with no parameters or no tests, a duplicate
// parameter name and '/' in a parameter name are reported when the program starts, as
// for any suite; a duplicate or empty test name, '/' in a test name and a missing test
// function or factory fail every test of the suite with the list of problems, before any
// factory runs.

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <source_location>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "handoff/internal/hooks.h"
#include "handoff/suite.h"
#include "handoff/t.h"

namespace handoff {

// Options of one parameter, the test that runs every test against it.
struct ParamOptions {
  // Labels of the parameter's test: --labels backend=files runs only the parameters
  // labelled so, --skip-labels leaves them out, and CTest gets them as LABELS.
  std::map<std::string, std::string> labels = {};
  // Timeout of the parameter's test, all its subtests together; zero means the suite's.
  std::chrono::milliseconds timeout{0};
};

namespace internal {

template <typename>
inline constexpr bool kAlwaysFalse = false;

template <typename F>
struct IsStdFunction : std::false_type {};
template <typename Signature>
struct IsStdFunction<std::function<Signature>> : std::true_type {};

// Returns true if `f` is an empty std::function or a null function pointer; any other
// callable is never null.
template <typename F>
bool IsNullCallable(const F& f) {
  if constexpr (IsStdFunction<F>::value) {
    return !f;
  } else if constexpr (std::is_pointer_v<F> || std::is_member_pointer_v<F>) {
    return f == nullptr;
  } else {
    return false;
  }
}

template <typename R, typename P>
struct ParamInstanceOf : std::false_type {};
// An object of P (or of a class derived from P), returned by value.
template <typename R, typename P>
  requires(std::is_class_v<R> && std::is_convertible_v<R*, P*> &&
           std::is_move_constructible_v<R>)
struct ParamInstanceOf<R, P> : std::true_type {
  static std::shared_ptr<P> Make(R r) { return std::make_shared<R>(std::move(r)); }
};
template <typename D, typename Deleter, typename P>
  requires std::is_convertible_v<D*, P*>
struct ParamInstanceOf<std::unique_ptr<D, Deleter>, P> : std::true_type {
  static std::shared_ptr<P> Make(std::unique_ptr<D, Deleter> r) { return r; }
};
template <typename D, typename P>
  requires std::is_convertible_v<D*, P*>
struct ParamInstanceOf<std::shared_ptr<D>, P> : std::true_type {
  static std::shared_ptr<P> Make(std::shared_ptr<D> r) { return r; }
};

// What a parameter's factory may return: a P (or a class derived from P) by value, or a
// std::unique_ptr or std::shared_ptr to one. Never a reference: each subtest needs an
// instance of its own.
template <typename R, typename P>
concept ParamInstance =
    !std::is_reference_v<R> && ParamInstanceOf<std::remove_cv_t<R>, P>::value;

}  // namespace internal

// A callable that makes one instance for one subtest: called with the subtest's T
// (to fail, or to take a TempDir), or with nothing.
template <typename F, typename P>
concept ParamFactory =
    (std::is_invocable_v<F&, T&> &&
     internal::ParamInstance<std::invoke_result_t<F&, T&>, P>) ||
    (!std::is_invocable_v<F&, T&> && std::is_invocable_v<F&> &&
     internal::ParamInstance<std::invoke_result_t<F&>, P>);

// Builds a parametrized suite: every Test runs against every Param, each combination as
// the subtest Param/Test of the test Param, with a fresh instance of P from the
// parameter's factory. Convert it to a handoff::Suite (Build(), or implicitly) to
// register it: handoff::Register(handoff::ParamSuite<KvStore>("KvStore").Param(...)...).
template <typename P>
class ParamSuite {
 public:
  // A test run against each parameter: the subtest's T and that subtest's instance.
  using TestFunc = std::function<void(T&, P&)>;
  // Makes the instance one subtest receives; null fails the subtest.
  using Factory = std::function<std::shared_ptr<P>(T&)>;

  // Starts a suite named `name`; `where` (the caller's line) is quoted in the message
  // about an invalid definition.
  explicit ParamSuite(std::string name,
                      std::source_location where = std::source_location::current())
      : name_(std::move(name)), where_(fmt::format("{}:{}", where.file_name(), where.line())) {
    options_.name = name_;
  }

  // Adds a parameter whose instances come from `factory`, called in each subtest with
  // the subtest's T (or with nothing) and returning a P, or a std::unique_ptr or
  // std::shared_ptr to a P (or to a class derived from P).
  template <typename F>
    requires ParamFactory<std::decay_t<F>, P>
  ParamSuite& Param(std::string name, F&& factory, ParamOptions options = {}) {
    using Fn = std::decay_t<F>;
    if (internal::IsNullCallable(factory)) {
      problems_.push_back(fmt::format("parameter \"{}\" has no factory", name));
    }
    Factory make = [fn = Fn(std::forward<F>(factory))](T& t) mutable -> std::shared_ptr<P> {
      if constexpr (std::is_invocable_v<Fn&, T&>) {
        using R = std::remove_cv_t<std::invoke_result_t<Fn&, T&>>;
        return internal::ParamInstanceOf<R, P>::Make(fn(t));
      } else {
        using R = std::remove_cv_t<std::invoke_result_t<Fn&>>;
        return internal::ParamInstanceOf<R, P>::Make(fn());
      }
    };
    params_.push_back(ParamDef{internal::RewriteSubtestName(name), std::move(make),
                               std::move(options)});
    return *this;
  }

  // Adds a parameter that is a value: each subtest receives its own copy of it.
  //   .Param("fast", Config{.workers = 8})
  ParamSuite& Param(std::string name, const P& value, ParamOptions options = {})
    requires std::is_copy_constructible_v<P>
  {
    return Param(std::move(name), [value] { return value; }, std::move(options));
  }
  // The same for a value of a class derived from P (copied as that class).
  template <typename V>
    requires(!ParamFactory<std::decay_t<V>, P> && !std::is_same_v<std::decay_t<V>, P> &&
             std::is_convertible_v<std::decay_t<V>*, P*> &&
             std::is_copy_constructible_v<std::decay_t<V>>)
  ParamSuite& Param(std::string name, V&& value, ParamOptions options = {}) {
    return Param(std::move(name), [value = std::decay_t<V>(std::forward<V>(value))] {
      return value;
    }, std::move(options));
  }
  // Anything else does not compile, with a message that says what a parameter may be.
  template <typename F>
    requires(!ParamFactory<std::decay_t<F>, P> &&
             !std::is_convertible_v<std::decay_t<F>*, P*>)
  ParamSuite& Param(std::string, F&&, ParamOptions = {}) {
    static_assert(internal::kAlwaysFalse<F>,
                  "a ParamSuite<P> parameter is a value of P (or of a class derived from "
                  "P), or a factory called with the subtest's handoff::T& (or nothing) that "
                  "returns a P, a std::unique_ptr<P> or a std::shared_ptr<P> by value");
    return *this;
  }

  // Adds a test, run against every parameter in the order tests were added. `fn` takes
  // the subtest's T and its instance: [](handoff::T& t, KvStore& store) { ... }.
  template <typename F>
    requires std::is_invocable_v<std::decay_t<F>&, T&, P&>
  ParamSuite& Test(std::string name, F&& fn) {
    if (internal::IsNullCallable(fn)) {
      problems_.push_back(fmt::format("test \"{}\" has no function", name));
    }
    tests_.push_back(TestDef{internal::RewriteSubtestName(name), TestFunc(std::forward<F>(fn))});
    return *this;
  }
  template <typename F>
    requires(!std::is_invocable_v<std::decay_t<F>&, T&, P&>)
  ParamSuite& Test(std::string, F&&) {
    static_assert(internal::kAlwaysFalse<F>,
                  "a ParamSuite<P> test is called with (handoff::T&, P&)");
    return *this;
  }

  // Sets options of the suite (namespace, description, labels, attempts, timeout, setup,
  // teardown) with `configure`, called now on options(). Its name and tests are the
  // ParamSuite's: Build() replaces whatever `configure` set for them.
  ParamSuite& Configure(const std::function<void(Suite&)>& configure) {
    configure(options_);
    return *this;
  }
  // The options of the suite Build() returns, as Configure sets them.
  Suite& options() { return options_; }

  // Returns the suite: its options, and one test per parameter listing every test as a
  // subtest. With no parameters or no tests the suite has no tests, which registration
  // reports.
  Suite Build() const {
    Suite suite = options_;
    suite.name = name_;
    suite.tests.clear();
    if (tests_.empty()) return suite;
    auto definition = std::make_shared<const Definition>(
        Definition{params_, tests_, Problems()});
    for (std::size_t i = 0; i < params_.size(); ++i) {
      handoff::Test test;
      test.name = params_[i].name;
      test.labels = params_[i].options.labels;
      test.timeout = params_[i].options.timeout;
      for (const TestDef& def : tests_) test.subtests.push_back(def.name);
      test.fn = [definition, i](T& t) { RunParam(*definition, definition->params[i], t); };
      suite.tests.push_back(std::move(test));
    }
    return suite;
  }
  operator Suite() const { return Build(); }  // NOLINT(google-explicit-constructor)

 private:
  struct ParamDef {
    std::string name;
    Factory factory;
    ParamOptions options;
  };
  struct TestDef {
    std::string name;
    TestFunc fn;
  };
  // What the built tests share.
  struct Definition {
    std::vector<ParamDef> params;
    std::vector<TestDef> tests;
    std::string problems;  // empty when the definition is valid
  };

  // Returns what is wrong with the tests (the registry checks the parameters, which
  // become the suite's tests), one problem per line, or "".
  std::string Problems() const {
    std::vector<std::string> problems = problems_;
    std::vector<std::string> seen;
    for (const TestDef& test : tests_) {
      if (test.name.empty()) {
        problems.push_back("a test has an empty name");
      } else if (test.name.find('/') != std::string::npos) {
        problems.push_back(fmt::format("test name \"{}\" contains '/'", test.name));
      } else if (std::find(seen.begin(), seen.end(), test.name) != seen.end()) {
        problems.push_back(fmt::format("duplicate test name \"{}\"", test.name));
      } else {
        seen.push_back(test.name);
      }
    }
    if (problems.empty()) return "";
    std::string out = fmt::format("invalid ParamSuite \"{}\" ({}):", name_, where_);
    for (const std::string& problem : problems) out += "\n  " + problem;
    return out;
  }

  // The body of a parameter's test: each test as a subtest with a fresh instance.
  static void RunParam(const Definition& definition, const ParamDef& param, T& t) {
    if (!definition.problems.empty()) t.Fatal(definition.problems);
    for (const TestDef& test : definition.tests) {
      t.Run(test.name, [&](T& t) {
        std::shared_ptr<P> instance = param.factory(t);
        if (!instance) t.Fatalf("the factory of parameter \"{}\" returned null", param.name);
        P& ref = *instance;
        // The instance goes when the subtest's cleanups reach this one: after those the
        // test registers (they may still use it), before those the factory registered.
        t.Cleanup([instance = std::move(instance)]() mutable { instance.reset(); });
        test.fn(t, ref);
      });
    }
  }

  std::string name_;
  std::string where_;
  Suite options_;
  std::vector<ParamDef> params_;
  std::vector<TestDef> tests_;
  std::vector<std::string> problems_;  // found while adding: a missing factory or function
};

}  // namespace handoff
