#pragma once

// Decides, in one place, which notifications a run's committed state sends (issue 16): the
// engine calls it while it builds the write that commits the run's start, its end or a test's
// failure, and the deliveries it returns go into that same transaction (the outbox). Every
// destination's policy and route is read here, and how a finished run compares with the
// suite's previous one (DecideChange).

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/delivery_worker.h"
#include "notify/notification.h"
#include "store/store.h"

namespace handoff {

// Returns how `run` (finished) compares with `previous`, the suite's previous finished run
// of the whole suite in the same namespace and environment (Store::PreviousFullRun). A
// partial run (a filter or a list of tests) and a cancelled one compare with nothing: kNone.
// No previous run: kFirst.
notify::Change DecideChange(const store::Run& run, const std::optional<store::Run>& previous);

// Returns the run as notifications show it; `external_url` (--external-url) makes its link.
notify::RunFacts MakeRunFacts(const store::Run& run, const std::string& external_url);

class NotifyDecider {
 public:
  // `destinations` must outlive the decider.
  NotifyDecider(const std::vector<NotifyDestination>& destinations, std::string external_url,
                std::function<std::chrono::system_clock::time_point()> now);

  bool empty() const { return destinations_.empty(); }

  // The deliveries of a run that starts (also when a resumed run starts again: the same ids).
  std::vector<store::Delivery> RunStarted(const store::Run& run) const;
  // The deliveries of a run that finished with `rows`; `previous` is what it compares with
  // (Store::PreviousFullRun).
  std::vector<store::Delivery> RunFinished(const store::Run& run,
                                           const std::vector<store::TestRow>& rows,
                                           const std::optional<store::Run>& previous) const;
  // The deliveries of a top-level test that failed for good (after its last attempt).
  std::vector<store::Delivery> TestFailed(const store::Run& run, const store::TestRow& row) const;

 private:
  std::vector<store::Delivery> Decide(notify::Notification notification,
                                      const store::Run& run, const std::string& test) const;

  const std::vector<NotifyDestination>& destinations_;
  std::string external_url_;
  std::function<std::chrono::system_clock::time_point()> now_;
};

}  // namespace handoff
