// The engine's side of replicas on a shared store (issue 17; serve_engine.h, store.h's
// "Several replicas on one store"). The queue is the database's: a replica claims runs when
// it has room (at once when it queued one or finished one, else every poll_interval),
// executes each under a lease it renews every poll, and stops a run whose lease another
// replica took over (its writes are fenced off by then). Cancels are rows too: the replica
// executing the run sees them at its next renewal. Schedules are read back every poll, so
// that a schedule created, paused or deleted on one replica is so on all; each due time is
// fired by the replica that claims it. Runs executed elsewhere reach this replica's live
// streams by reading their journal.

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <map>
#include <set>
#include <utility>

#include "engine/active_run.h"
#include "engine/serve_engine.h"

namespace handoff {
namespace {

using store::RunStatus;

// A journal read of a run executed elsewhere returns at most this many entries at a time.
constexpr int kLivePage = 500;

std::chrono::milliseconds Poll(const ServeOptions& options) {
  return std::min<std::chrono::milliseconds>(options.poll_interval, options.lease_ttl / 3);
}

std::int64_t Ns(std::chrono::nanoseconds d) { return d.count(); }

}  // namespace

void ServeEngine::WakeReplica() {
  {
    std::lock_guard lock(replica_mu_);
    replica_poked_ = true;
  }
  replica_wake_.notify_all();
}

void ServeEngine::ReplicaLoop() {
  const auto poll = Poll(options_);
  std::int64_t renew_tried_ns = 0;
  std::unique_lock lock(replica_mu_);
  while (!replica_stopping_) {
    const bool poked = std::exchange(replica_poked_, false);
    lock.unlock();
    const auto now = std::chrono::steady_clock::now();
    // A poke (a run queued or finished here) claims at once; the rest keeps its pace.
    if (!poked || SteadyNs() - renew_tried_ns >= Ns(poll)) {
      renew_tried_ns = SteadyNs();
      RenewLeases();
      if (deliveries_) {
        const std::int64_t asked_ns = SteadyNs();
        Result<bool> lead = store_.Lead(lead_holder_, options_.lease_ttl.count());
        const bool leading = lead.ok() && *lead;
        // Certainly this replica's until the ttl after it was asked, less a poll.
        if (leading) lead_until_ns_.store(asked_ns + Ns(options_.lease_ttl - poll));
        if (leading != leading_.exchange(leading)) {
          log_.Info(leading ? "this replica sends the notifications now"
                            : "another replica sends the notifications now",
                    {{"replica", options_.replica}});
          if (leading) deliveries_->Wake();
        }
      }
    }
    if (!poked || now - schedules_synced_at_ >= poll) {
      schedules_synced_at_ = now;
      SyncSchedules();
    }
    ClaimRuns();
    lock.lock();
    replica_wake_.wait_for(lock, poll, [&] { return replica_stopping_ || replica_poked_; });
  }
}

void ServeEngine::ClaimRuns() {
  if (!accepting_.load() || !store_writable_.load()) return;
  int room = 0;
  {
    std::lock_guard lock(mu_);
    if (draining_) return;
    room = options_.max_concurrent_runs - static_cast<int>(run_threads_.size());
  }
  if (room <= 0) return;
  store::ClaimRequest request;
  request.replica = options_.replica;
  request.limit = room;
  request.ttl_ms = options_.lease_ttl.count();
  // Only what this binary can run: during a rolling update, a suite that only newer
  // replicas have is left to them.
  for (const Suite& suite : catalog_.suites) request.suites.push_back(suite.name);
  Result<std::vector<store::LeasedRun>> claimed = store_.ClaimRuns(request);
  if (!claimed.ok()) {
    log_.Warn("could not claim runs from the store", {{"error", claimed.error().message}});
    return;
  }
  for (store::LeasedRun& leased : *claimed) {
    const std::int64_t id = leased.run.id;
    {
      std::lock_guard lock(mu_);
      if (active_.count(id) != 0) {
        // Its thread here is still winding down from a lease this replica lost: the next
        // claim, once it has ended, starts it again.
        store_.ReleaseLeases({{id, leased.lease_token}});
        continue;
      }
    }
    const std::int64_t last_seq = LastSeq(id);
    auto active = MakeActive(leased.run, last_seq);
    active->claimed_seq = last_seq;
    active->lease_token = leased.lease_token;
    active->recorder->SetLease(leased.lease_token);
    // A held run's replica is gone, and its worker with it: it resumes as a running one.
    active->resuming = leased.run.status == RunStatus::kRunning ||
                       leased.run.status == RunStatus::kHeld;
    if (leased.cancel_requested) active->user_cancelled.store(true);
    if (active->resuming) {
      log_.Info("resuming run: the replica that executed it is gone",
                {{"run", std::to_string(id)}, {"suite", leased.run.suite}});
    }
    std::lock_guard lock(mu_);
    if (draining_) {
      store_.ReleaseLeases({{id, leased.lease_token}});
      continue;
    }
    active_[id] = active;
    StartLocked(active);
    runs_active_->With({}).Set(static_cast<double>(run_threads_.size()));
  }
}

void ServeEngine::RenewLeases() {
  std::vector<std::pair<std::int64_t, std::int64_t>> leases;
  std::map<std::int64_t, std::shared_ptr<ActiveRun>> runs;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, active] : active_) {
      if (active->lease_token == 0) continue;
      leases.emplace_back(id, active->lease_token);
      runs.emplace(id, active);
    }
  }
  const std::int64_t started_ns = SteadyNs();
  if (leases.empty()) {
    renewed_at_ns_.store(started_ns);
    return;
  }
  Result<std::vector<store::LeaseState>> states =
      store_.RenewLeases(options_.replica, leases, options_.lease_ttl.count());
  if (!states.ok()) {
    // The lease watchdog stops the runs if this goes on for the ttl.
    log_.Warn("could not renew the leases of this replica's runs",
              {{"error", states.error().message}});
    return;
  }
  renewed_at_ns_.store(started_ns);
  for (const store::LeaseState& state : *states) {
    const std::shared_ptr<ActiveRun>& active = runs[state.run_id];
    {
      // Ended here since (its lease released, or its final state committed): nothing to do.
      std::lock_guard lock(mu_);
      auto it = active_.find(state.run_id);
      if (it == active_.end() || it->second != active) continue;
    }
    if (!state.held) {
      if (!active->lease_lost.exchange(true)) {
        log_.Error("run stopped: another replica took it over (this replica's lease had "
                   "expired)",
                   {{"run", std::to_string(state.run_id)}, {"suite", active->run.suite}});
        active->gate->StopNow();
      }
    } else {
      if (state.cancel_requested && !active->user_cancelled.exchange(true)) {
        active->cancel.store(true);
        log_.Info("run cancel requested", {{"run", std::to_string(state.run_id)}});
      }
      // Asked on another replica: the supervisor passes it on if a test is held.
      if (state.release_requested) active->release.store(true);
    }
  }
}

Result<store::Run> ServeEngine::ReleaseShared(const store::Run& run) {
  // Another replica executes it: the store carries the release there (its next renewal).
  Result<store::Run> requested = store_.RequestRelease(run.id);
  if (!requested.ok()) {
    if (requested.error().code == ErrorCode::kUnavailable) {
      StoreWriteFailed(fmt::format("the release of run {} could not be stored", run.id));
    }
    return std::move(requested).error();
  }
  log_.Info("run release requested",
            {{"run", std::to_string(run.id)}, {"replica", requested->replica}});
  return *requested;
}

void ServeEngine::StopLostRuns(std::string_view why) {
  std::vector<std::shared_ptr<ActiveRun>> runs;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, active] : active_) {
      if (active->lease_token != 0) runs.push_back(active);
    }
  }
  for (const auto& active : runs) {
    if (active->lease_lost.exchange(true)) continue;
    log_.Error(why, {{"run", std::to_string(active->run.id)}, {"suite", active->run.suite}});
    active->gate->StopNow();
  }
}

void ServeEngine::LeaseWatchdogLoop() {
  const auto poll = Poll(options_);
  // A renewal that began at T keeps the leases until T + ttl at least (the database stamps
  // them later); another replica claims them a poll after that at the earliest. Stop a
  // poll before T + ttl, whatever the database calls are doing meanwhile.
  const std::int64_t deadline = Ns(options_.lease_ttl - poll);
  std::unique_lock lock(replica_mu_);
  while (!replica_wake_.wait_for(lock, poll / 4, [&] { return replica_stopping_; })) {
    if (SteadyNs() - renewed_at_ns_.load() < deadline) continue;
    lock.unlock();
    StopLostRuns(
        "run stopped: its lease could not be renewed for the lease ttl, so another replica "
        "may take it over");
    lock.lock();
  }
}

bool ServeEngine::LeaseLost(ActiveRun& active) {
  if (active.lease_lost.load()) return true;
  Result<std::vector<store::LeaseState>> states = store_.RenewLeases(
      options_.replica, {{active.run.id, active.lease_token}}, options_.lease_ttl.count());
  if (!states.ok() || states->empty() || states->front().held) return false;
  if (!active.lease_lost.exchange(true)) {
    log_.Error("run stopped: another replica took it over (this replica's lease had expired)",
               {{"run", std::to_string(active.run.id)}, {"suite", active.run.suite}});
    active.gate->StopNow();
  }
  return true;
}

void ServeEngine::SyncSchedules() {
  const auto now = options_.now();
  bool changed = false;
  {
    // Read under the lock: a schedule this replica creates or deletes meanwhile is in the
    // store and in the book alike by the time the lock is free.
    std::lock_guard lock(schedules_mu_);
    std::optional<std::vector<store::StoredSchedule>> stored = store_.TryListSchedules();
    std::optional<std::map<std::string, bool>> code_pauses = store_.CodeSchedulePauses();
    if (!stored || !code_pauses) return;  // logged; the schedules stay as they were
    for (const auto& [name, paused] : *code_pauses) {
      const ScheduleInfo* info = schedules_.Find(name);
      if (info == nullptr || !info->from_code || info->paused == paused) continue;
      schedules_.SetPaused(name, paused, now);
      changed = true;
      log_.Info(paused ? "schedule paused on another replica" : "schedule resumed on another replica",
                {{"schedule", name}});
    }
    std::set<std::string> names;
    for (const store::StoredSchedule& s : *stored) {
      names.insert(s.name);
      const ScheduleInfo* info = schedules_.Find(s.name);
      if (info == nullptr) {
        std::string why;
        if (schedules_.Add(ToScheduleInfo(s), now, &why)) {
          changed = true;
          log_.Info("schedule created on another replica", {{"schedule", s.name}});
        }
      } else if (!info->from_code && info->paused != s.paused) {
        schedules_.SetPaused(s.name, s.paused, now);
        changed = true;
        log_.Info(s.paused ? "schedule paused on another replica"
                           : "schedule resumed on another replica",
                  {{"schedule", s.name}});
      }
    }
    for (const ScheduleInfo& info : schedules_.List()) {
      if (info.from_code || names.count(info.name) != 0) continue;
      schedules_.Remove(info.name);
      changed = true;
      log_.Info("schedule deleted on another replica", {{"schedule", info.name}});
    }
  }
  if (changed) schedules_changed_.notify_all();
}

void ServeEngine::LivePollLoop() {
  std::map<std::int64_t, std::int64_t> published;  // run id -> last seq sent
  std::unique_lock lock(replica_mu_);
  while (!replica_stopping_) {
    lock.unlock();
    std::map<std::int64_t, std::int64_t> next;
    for (const std::int64_t id : live_.Runs()) {
      // Each subscriber skips what it has sent already (by seq), so a run first seen here
      // is read from its start.
      std::int64_t after = published.count(id) != 0 ? published[id] : 0;
      // Executed here: its commits reach the stream as they happen, and only what was
      // written before this replica claimed it is read (up to `until`).
      std::int64_t until = INT64_MAX;
      {
        std::lock_guard runs_lock(mu_);
        if (auto it = active_.find(id); it != active_.end()) until = it->second->claimed_seq;
      }
      while (after < until) {
        std::vector<store::RunEvent> events = store_.GetEvents(id, after, kLivePage);
        while (!events.empty() && events.back().seq > until) events.pop_back();
        if (events.empty()) break;
        after = events.back().seq;
        live_.Publish(id, events);
        if (static_cast<int>(events.size()) < kLivePage) break;
      }
      next[id] = after;
    }
    published.swap(next);
    lock.lock();
    replica_wake_.wait_for(lock, options_.live_poll_interval, [&] { return replica_stopping_; });
  }
}

Result<store::Run> ServeEngine::CancelShared(std::int64_t run_id) {
  std::shared_ptr<ActiveRun> active;
  {
    std::lock_guard lock(mu_);
    auto it = active_.find(run_id);
    if (it != active_.end()) active = it->second;
  }
  // Recorded in the store first: if this replica stops before the run does, the replica
  // that resumes it cancels it.
  Result<store::Run> requested = store_.RequestCancel(run_id);
  if (!requested.ok()) {
    if (requested.error().code == ErrorCode::kNotFound) return std::move(requested).error();
    StoreWriteFailed(fmt::format("the cancel of run {} could not be stored", run_id));
    return Error{ErrorCode::kUnavailable,
                 fmt::format("run {} could not be cancelled: the store cannot write (see "
                             "/readyz); try again later",
                             run_id)};
  }
  if (store::IsFinished(requested->status)) {
    return Error{ErrorCode::kConflict,
                 fmt::format("run {} has already finished ({})", run_id,
                             store::RunStatusName(requested->status))};
  }
  if (active) {
    active->user_cancelled.store(true);
    active->cancel.store(true);
    log_.Info("run cancel requested", {{"run", std::to_string(run_id)}});
    std::lock_guard lock(active->mu);
    return active->run;
  }
  // Not executing anywhere (queued, or its replica is gone): claim it and end it here.
  store::ClaimRequest request;
  request.replica = options_.replica;
  request.ttl_ms = options_.lease_ttl.count();
  request.only_run = run_id;
  Result<std::vector<store::LeasedRun>> claimed = store_.ClaimRuns(request);
  if (!claimed.ok() || claimed->empty()) {
    // Another replica executes it: it stops there at its next renewal.
    log_.Info("run cancel requested", {{"run", std::to_string(run_id)}});
    return *requested;
  }
  store::LeasedRun& leased = claimed->front();
  const std::int64_t last_seq = LastSeq(run_id);
  active = MakeActive(leased.run, last_seq);
  active->claimed_seq = last_seq;
  active->lease_token = leased.lease_token;
  active->recorder->SetLease(leased.lease_token);
  active->user_cancelled.store(true);
  if (leased.run.status == RunStatus::kRunning || leased.run.status == RunStatus::kHeld) {
    // Its tests that finished stay as they are; Execute ends it (cancelled) at once.
    active->resuming = true;
    std::lock_guard lock(mu_);
    if (draining_) {
      // Shutting down: the replica that claims it next ends it, as the store says.
      store_.ReleaseLeases({{run_id, leased.lease_token}});
      return leased.run;
    }
    active_[run_id] = active;
    StartLocked(active);
    return leased.run;
  }
  active->self = active;  // until the final state's commit callback
  std::vector<store::TestRow> rows = store_.GetTests(run_id);
  active->recorder->CancelUnfinished(rows, "cancelled: the run was cancelled before it started");
  if (!FinishRun(*active, RunEnding{.cancelled = true}, "cancelled before it started", rows)) {
    store_.ReleaseLeases({{run_id, leased.lease_token}});
    return Error{ErrorCode::kUnavailable,
                 fmt::format("run {} could not be cancelled: the store cannot write (see "
                             "/readyz); try again later",
                             run_id)};
  }
  store_.Sync();
  std::lock_guard lock(active->mu);
  return active->run;
}

}  // namespace handoff
