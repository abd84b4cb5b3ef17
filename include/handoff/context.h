#pragma once

#include <chrono>
#include <memory>
#include <stop_token>

namespace handoff {

// Context tells a running test when to stop: the stop token fires when the run is
// cancelled or the test's timeout expires, and Deadline() is when the timeout expires.
// Tests pass it to long waits so they return promptly (cooperative cancellation).
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

 private:
  std::stop_token token_;
  Clock::time_point deadline_ = Clock::time_point::max();
};

}  // namespace handoff
