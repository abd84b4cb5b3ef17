#include "engine/run_hold.h"

#include <utility>

#include "event/hold.h"

namespace handoff {

void RunHoldSink::OnEvent(const Event& e) {
  if (e.kind == EventKind::kHeld) {
    if (hold_) return;  // one hold a run: a second one is not the worker's to start
    store::RunHold& hold = hold_.emplace();
    hold.test = e.test;
    hold.attempt = e.attempt;
    hold.hold = GetHold(e);
    hold.held_at_ns = e.time_ns;
    hold.release_at_ns = e.time_ns + hold.hold.max_hold_ns;
    on_change_(hold);
    return;
  }
  if (e.kind != EventKind::kReleased || !hold_ || !hold_->ended.empty() || e.test != hold_->test) {
    return;
  }
  HoldEnd end = HoldEnd::kReleased;
  ParseHoldEnd(e.text, &end);  // the worker's pipe is outside input: an unknown one is released
  hold_->released_at_ns = e.time_ns;
  hold_->ended = HoldEndName(end);
  on_change_(*hold_);
}

void RunHoldSink::CloseOpenHold(std::int64_t now_ns) {
  if (!hold_ || !hold_->ended.empty()) return;
  hold_->released_at_ns = now_ns;
  hold_->ended = HoldEndName(HoldEnd::kWorkerGone);
  on_change_(*hold_);
}

}  // namespace handoff
