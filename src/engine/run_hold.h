#pragma once

// Hold on failure in serve (issue 21): follows a run's kHeld and kReleased events and
// turns them into the run's hold (store::RunHold), which the engine commits as the run's
// state: held while a test is held, running again once its hold ended.

#include <cstdint>
#include <functional>
#include <optional>

#include "event/event.h"
#include "store/store.h"

namespace handoff {

class RunHoldSink : public EmptyEventSink {
 public:
  // Called on the run's thread with the hold each time it changes.
  using OnChange = std::function<void(const store::RunHold&)>;

  explicit RunHoldSink(OnChange on_change) : on_change_(std::move(on_change)) {}

  // Ends a hold still open when its worker is gone without ending it (killed from outside,
  // crashed): its world went with it. Does nothing when no hold is open.
  void CloseOpenHold(std::int64_t now_ns);

  // EventSink
  void OnEvent(const Event& e) override;

 private:
  OnChange on_change_;
  std::optional<store::RunHold> hold_;
};

}  // namespace handoff
