#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <stop_token>
#include <type_traits>
#include <utility>

namespace handoff {

// A typed key for values carried by a Context. Keys are compared by identity, so define
// each once, at namespace scope:
//   inline const handoff::ContextKey<std::string> kNamespace{"namespace"};
template <typename V>
class ContextKey {
 public:
  explicit constexpr ContextKey(const char* name) : name_(name) {}
  ContextKey(const ContextKey&) = delete;
  ContextKey& operator=(const ContextKey&) = delete;
  const char* name() const { return name_; }

 private:
  const char* name_;
};

// Context tells a running test when to stop: the stop token fires when the run is
// cancelled or the test's timeout expires, and Deadline() is when the timeout expires.
// Tests pass it to long waits so they return promptly (cooperative cancellation).
//
// A Context also carries values, as Go's context.Context does: WithValue returns a new
// Context with one more value and leaves this one unchanged, so contexts are cheap to
// copy and safe to share between threads. Features pass one from step to step.
class Context {
 public:
  using Clock = std::chrono::steady_clock;

  Context() = default;
  Context(std::stop_token token, Clock::time_point deadline)
      : token_(std::move(token)), deadline_(deadline) {}

  // Returns true once the test has been asked to stop.
  bool StopRequested() const { return token_.stop_requested(); }

  // Returns the token that fires when the test is asked to stop, for std::stop_callback
  // and std::jthread.
  std::stop_token StopToken() const { return token_; }

  // Returns the instant the test's timeout expires (time_point::max() if none).
  Clock::time_point Deadline() const { return deadline_; }

  // Returns the time left before the deadline (zero once passed).
  Clock::duration Remaining() const;

  // Sleeps for `d` or until the test is asked to stop, whichever comes first. Returns
  // true if the full duration elapsed, false if the sleep was cut short by a stop request.
  bool SleepFor(Clock::duration d) const;

  // Returns a copy of this context that also carries `value` under `key` (replacing
  // what an earlier WithValue stored under the same key).
  template <typename V, typename U>
    requires std::is_constructible_v<V, U&&>
  [[nodiscard]] Context WithValue(const ContextKey<V>& key, U&& value) const {
    Context out = *this;
    out.values_ = std::make_shared<const Entry>(
        Entry{&key, std::make_shared<const V>(std::forward<U>(value)), values_});
    return out;
  }

  // Returns the value stored under `key`, or nullptr if there is none.
  template <typename V>
  const V* Value(const ContextKey<V>& key) const {
    for (const Entry* e = values_.get(); e != nullptr; e = e->next.get()) {
      if (e->key == &key) return static_cast<const V*>(e->value.get());
    }
    return nullptr;
  }

  // Returns the value stored under `key`, or `fallback` if there is none.
  template <typename V>
  V ValueOr(const ContextKey<V>& key, V fallback) const {
    const V* v = Value(key);
    return v != nullptr ? *v : std::move(fallback);
  }

  // Returns a context with this one's values and `other`'s stop token and deadline.
  [[nodiscard]] Context WithCancellation(const Context& other) const {
    Context out = other;
    out.values_ = values_;
    return out;
  }

 private:
  struct Entry {
    const void* key;
    std::shared_ptr<const void> value;
    std::shared_ptr<const Entry> next;
  };
  std::stop_token token_;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::shared_ptr<const Entry> values_;
};

// The key under which each test's Context carries the W3C traceparent header value of the
// test's attempt (or subtest) span, "00-<trace id>-<span id>-01", for code that is handed a
// Context and makes requests: ctx.ValueOr(handoff::kTraceParent, std::string()).
inline const ContextKey<std::string> kTraceParent{"traceparent"};

}  // namespace handoff
