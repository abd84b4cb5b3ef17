#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "handoff/context.h"

namespace handoff {

class T;

namespace internal {
class TestState;
// Returns the state behind `t` (for the library's own adapters: features, GoogleTest).
TestState* StateOf(T& t);
}  // namespace internal

// A format string that also remembers where it was written, so the `...f` members of T
// can report file:line. Built implicitly from a string literal; the format is checked at
// compile time by fmt.
template <typename... Args>
struct FormatAt {
  template <typename S>
  consteval FormatAt(const S& s, std::source_location loc = std::source_location::current())
      : format(s), where(loc) {}
  fmt::format_string<Args...> format;
  std::source_location where;
};

// A span measures one step of a test (a request, a wait). It ends when End() is called
// or when it goes out of scope, whichever comes first.
class Span {
 public:
  Span(Span&& other) noexcept : t_(std::exchange(other.t_, nullptr)), id_(other.id_) {}
  Span& operator=(Span&& other) noexcept;
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;
  ~Span() { End(); }

  // Attaches a key/value attribute to the span; recorded when the span ends.
  void SetAttribute(std::string_view key, std::string_view value);
  // Ends the span now; later calls do nothing.
  void End();

 private:
  friend class T;
  Span(T* t, unsigned id) : t_(t), id_(id) {}
  T* t_;
  unsigned id_;
};

// T is the handle a test uses to report: log lines, failures, skips, values, spans,
// cleanups and subtests, modelled on Go's testing.T. A T is valid only while its test
// runs, and is used from the test's own thread.
class T {
 public:
  explicit T(internal::TestState* state) : state_(state) {}
  T(const T&) = delete;
  T& operator=(const T&) = delete;

  // Records a line in the test's output.
  void Log(std::string_view message,
           std::source_location where = std::source_location::current());
  // Records a formatted line in the test's output: t.Logf("got {} items", n).
  template <typename... Args>
  void Logf(FormatAt<std::type_identity_t<Args>...> f, Args&&... args) {
    Log(fmt::format(f.format, std::forward<Args>(args)...), f.where);
  }

  // Records a failure with its message and file:line; the test goes on.
  void Error(std::string_view message,
             std::source_location where = std::source_location::current());
  template <typename... Args>
  void Errorf(FormatAt<std::type_identity_t<Args>...> f, Args&&... args) {
    Error(fmt::format(f.format, std::forward<Args>(args)...), f.where);
  }

  // Records a failure with its message and file:line and stops the test (cleanups run).
  [[noreturn]] void Fatal(std::string_view message,
                          std::source_location where = std::source_location::current());
  template <typename... Args>
  [[noreturn]] void Fatalf(FormatAt<std::type_identity_t<Args>...> f, Args&&... args) {
    Fatal(fmt::format(f.format, std::forward<Args>(args)...), f.where);
  }

  // Marks the test failed without a message; the test goes on.
  void Fail(std::source_location where = std::source_location::current());
  // Marks the test failed and stops it (cleanups run).
  [[noreturn]] void FailNow(std::source_location where = std::source_location::current());
  // Returns true if the test (or one of its subtests) has failed so far.
  bool Failed() const;

  // Records why the test is skipped and stops it (cleanups run).
  [[noreturn]] void Skip(std::string_view reason,
                         std::source_location where = std::source_location::current());
  template <typename... Args>
  [[noreturn]] void Skipf(FormatAt<std::type_identity_t<Args>...> f, Args&&... args) {
    Skip(fmt::format(f.format, std::forward<Args>(args)...), f.where);
  }
  // Marks the test skipped and stops it.
  [[noreturn]] void SkipNow(std::source_location where = std::source_location::current());
  // Returns true if the test was skipped.
  bool Skipped() const;

  // Registers a function to run when the test (or subtest) ends, even after Fatal;
  // cleanups run last-registered first.
  void Cleanup(std::function<void()> fn);

  // Runs fn as a subtest named "<Name()>/<name>" and returns true if it passed (or was
  // skipped). A failing subtest fails this test too; FailNow in the subtest stops only
  // the subtest. Subtests not selected by --run/--skip are not run and return true.
  bool Run(std::string_view name, const std::function<void(T&)>& fn);

  // Returns the full name of the test: "Test" or "Test/Sub/SubSub".
  const std::string& Name() const;

  // Returns the test's cancellation context: stop requested, deadline.
  const handoff::Context& Context() const;

  // Sets this test's timeout, counted from now (never beyond the command line's
  // --timeout); the run kills the test if it has not returned a grace period after the
  // timeout asked it to stop.
  void SetTimeout(std::chrono::milliseconds timeout);

  // Returns the attempt number of this run of the test: 1 first, 2 on the first retry.
  int Attempt() const;

  // Marks the test's failures as soft: they are reported, but do not fail the suite or
  // the exit code.
  void SoftFailure();

  // Records a named value with the test's result (a version, an ID, a measurement).
  void SetValue(std::string_view key, std::string_view value);
  template <typename V>
    requires std::is_arithmetic_v<V>
  void SetValue(std::string_view key, V value) {
    SetValue(key, std::string_view(fmt::format("{}", value)));
  }
  // Returns a value set earlier in this test (or its parent), or else a parameter of the
  // run (the "params" of a run triggered over serve's API), if any.
  std::optional<std::string> Value(std::string_view key) const;

  // Keeps `data` with this attempt's result as the attachment `name` (a file name such as
  // "screenshot.png": no path separators, at most 128 bytes) of the media type
  // `media_type` ("image/png"; guessed from the name's extension when empty). `run` writes
  // it beside its reports and lists it in JUnit; `serve` stores it with the attempt and
  // shows it in the UI. Safe to call from any thread of the test. An attachment over 10
  // MiB, or beyond 50 MiB or 100 attachments in one attempt, an invalid name or media
  // type, or a name this test already attached in this attempt is not kept and fails the
  // test (as Error does) saying why.
  void Attach(std::string_view name, std::string_view data, std::string_view media_type = {},
              std::source_location where = std::source_location::current());
  // Attaches the file at `path` as Attach does with its contents; a file that cannot be
  // read fails the test (as Error does).
  void AttachFile(std::string_view name, const std::filesystem::path& path,
                  std::string_view media_type = {},
                  std::source_location where = std::source_location::current());

  // Starts a span named `name`; it ends when the returned Span is ended or destroyed.
  // It is a child of the innermost span of this test still open, else of the test's own.
  [[nodiscard]] Span StartSpan(std::string_view name);

  // Returns the W3C traceparent header value of the current span: the innermost span this
  // test started and has not ended, else the test's (or subtest's) own span, as
  // "00-<32 hex trace id>-<16 hex span id>-01". Every attempt is a trace of its own. Send
  // it as the `traceparent` header so the system under test joins the test's trace. Empty
  // in suite setup and teardown.
  std::string TraceParent() const;

  // Returns a fresh directory for this test, removed with its contents when the test ends.
  std::filesystem::path TempDir();

  // Sets an environment variable for the rest of the test; the previous value is restored
  // when the test ends.
  void Setenv(const std::string& key, const std::string& value);

 private:
  friend class Span;
  friend internal::TestState* internal::StateOf(T& t);
  internal::TestState* state_;
};

}  // namespace handoff
