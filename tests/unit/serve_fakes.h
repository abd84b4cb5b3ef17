#pragma once

// In-memory fakes of store::Store and ServeApi for the HTTP layer's tests: enough
// behaviour to drive every endpoint and error of the router and the server.

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/serve_api.h"
#include "store/store.h"

namespace handoff::testing {

// A store that keeps everything in maps; only the reads the HTTP layer uses matter.
class FakeStore : public store::Store {
 public:
  // Adds `run` with `tests` and returns its id (assigned when run.id is 0).
  std::int64_t AddRun(store::Run run, std::vector<store::TestRow> tests = {}) {
    std::lock_guard lock(mu_);
    if (run.id == 0) run.id = ++last_id_;
    last_id_ = std::max(last_id_, run.id);
    tests_[run.id] = std::move(tests);
    runs_[run.id] = run;
    return run.id;
  }
  void SetStatus(std::int64_t id, store::RunStatus status) {
    std::lock_guard lock(mu_);
    runs_[id].status = status;
  }
  void AddAttempt(std::int64_t run_id, store::Attempt attempt) {
    std::lock_guard lock(mu_);
    attempts_[run_id].push_back(std::move(attempt));
  }
  void AddEvent(std::int64_t run_id, store::RunEvent event) {
    std::lock_guard lock(mu_);
    events_[run_id].push_back(std::move(event));
  }
  void AddAttachment(std::int64_t run_id, store::StoredAttachment attachment) {
    std::lock_guard lock(mu_);
    attachments_[run_id].push_back(std::move(attachment));
  }
  // From now on, reads of attachments fail as a database that cannot answer.
  void FailAttachmentReads() { fail_attachment_reads_ = true; }
  int get_tests_calls() const { return get_tests_calls_.load(); }

  Result<std::vector<store::AttachmentInfo>> ListAttachments(
      std::int64_t run_id, const std::optional<std::string>& test) override {
    if (fail_attachment_reads_) return store::Unreadable("the attachments of a run");
    std::lock_guard lock(mu_);
    std::vector<store::AttachmentInfo> out;
    for (const store::StoredAttachment& a : attachments_[run_id]) {
      if (!test || a.info.test == *test) out.push_back(a.info);
    }
    return out;
  }
  Result<std::optional<store::StoredAttachment>> GetAttachment(std::int64_t run_id,
                                                               const std::string& test,
                                                               int attempt,
                                                               const std::string& name) override {
    if (fail_attachment_reads_) return store::Unreadable("an attachment");
    std::lock_guard lock(mu_);
    for (const store::StoredAttachment& a : attachments_[run_id]) {
      if (a.info.test == test && a.info.attempt == attempt && a.info.name == name) return a;
    }
    return std::optional<store::StoredAttachment>{};
  }

  // store::Store
  Result<store::CreatedRun> CreateRun(store::Run run,
                                      const std::vector<std::string>& names) override {
    std::vector<store::TestRow> rows;
    for (const std::string& name : names) rows.push_back(store::TestRow{.name = name});
    run.id = 0;
    const std::int64_t id = AddRun(run, rows);
    return store::CreatedRun{*GetRun(id), true};
  }
  void Write(store::WriteBatch, std::function<void(bool)> done) override {
    if (done) done(true);
  }
  void Sync() override {}
  std::optional<store::Run> GetRun(std::int64_t id) override {
    std::lock_guard lock(mu_);
    const auto it = runs_.find(id);
    if (it == runs_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<store::Run> ListRuns(const store::RunQuery& q) override {
    std::lock_guard lock(mu_);
    last_query_ = q;
    std::vector<store::Run> out;
    for (auto it = runs_.rbegin(); it != runs_.rend(); ++it) {
      const store::Run& run = it->second;
      if (q.before_id != 0 && run.id >= q.before_id) continue;
      if (!q.suite.empty() && run.suite != q.suite) continue;
      if (q.status && run.status != *q.status) continue;
      if (!q.reference.empty() && run.reference != q.reference) continue;
      if (static_cast<int>(out.size()) >= q.limit) break;
      out.push_back(run);
    }
    return out;
  }
  std::vector<store::Run> RunsWithStatus(const std::vector<store::RunStatus>&) override {
    return {};
  }
  std::vector<store::Run> LastRuns(const std::string& suite, int limit) override {
    std::lock_guard lock(mu_);
    std::vector<store::Run> out;
    for (auto it = runs_.rbegin(); it != runs_.rend(); ++it) {
      if (it->second.suite != suite || !store::IsFinished(it->second.status)) continue;
      if (static_cast<int>(out.size()) >= limit) break;
      out.push_back(it->second);
    }
    return out;
  }
  std::vector<store::TestRow> GetTests(std::int64_t run_id) override {
    ++get_tests_calls_;
    std::lock_guard lock(mu_);
    const auto it = tests_.find(run_id);
    return it == tests_.end() ? std::vector<store::TestRow>{} : it->second;
  }
  std::vector<store::Attempt> GetAttempts(std::int64_t run_id, const std::string& test) override {
    std::lock_guard lock(mu_);
    std::vector<store::Attempt> out;
    for (const store::Attempt& a : attempts_[run_id]) {
      if (a.test == test) out.push_back(a);
    }
    return out;
  }
  std::vector<store::Attempt> GetAllAttempts(std::int64_t run_id) override {
    std::lock_guard lock(mu_);
    return attempts_[run_id];
  }
  std::vector<store::RunEvent> GetEvents(std::int64_t run_id, std::int64_t after_seq,
                                         int limit) override {
    std::lock_guard lock(mu_);
    std::vector<store::RunEvent> out;
    for (const store::RunEvent& e : events_[run_id]) {
      if (e.seq <= after_seq) continue;
      if (static_cast<int>(out.size()) >= limit) break;
      out.push_back(e);
    }
    return out;
  }
  std::int64_t LastEventSeq(std::int64_t run_id) override {
    std::lock_guard lock(mu_);
    const auto& events = events_[run_id];
    return events.empty() ? 0 : events.back().seq;
  }
  Result<void> PutSchedule(const store::StoredSchedule&) override { return {}; }
  Result<void> UpdateSchedulePaused(const std::string&, bool) override { return {}; }
  Result<void> DeleteSchedule(const std::string&) override { return {}; }
  std::vector<store::StoredSchedule> ListSchedules() override { return {}; }
  std::int64_t DeleteRunsBefore(std::int64_t) override { return 0; }

  // Hunts: kept as added; their runs are not counted (all zero).
  std::int64_t AddHunt(store::Hunt hunt) {
    std::lock_guard lock(mu_);
    hunt.id = static_cast<std::int64_t>(hunts_.size()) + 1;
    hunts_[hunt.id] = hunt;
    return hunt.id;
  }
  std::optional<store::Hunt> GetHunt(std::int64_t id) override {
    std::lock_guard lock(mu_);
    const auto it = hunts_.find(id);
    if (it == hunts_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<store::Hunt> ListHunts(const store::HuntQuery&) override {
    std::lock_guard lock(mu_);
    std::vector<store::Hunt> hunts;
    for (auto it = hunts_.rbegin(); it != hunts_.rend(); ++it) hunts.push_back(it->second);
    return hunts;
  }
  std::optional<store::HuntRuns> CountHuntRuns(std::int64_t) override {
    return store::HuntRuns{};
  }

  store::RunQuery last_query() {
    std::lock_guard lock(mu_);
    return last_query_;
  }

 private:
  std::mutex mu_;
  std::int64_t last_id_ = 0;
  std::map<std::int64_t, store::Run> runs_;
  std::map<std::int64_t, store::Hunt> hunts_;
  std::map<std::int64_t, std::vector<store::TestRow>> tests_;
  std::map<std::int64_t, std::vector<store::Attempt>> attempts_;
  std::map<std::int64_t, std::vector<store::RunEvent>> events_;
  store::RunQuery last_query_;
  std::atomic<int> get_tests_calls_{0};
  std::map<std::int64_t, std::vector<store::StoredAttachment>> attachments_;
  std::atomic<bool> fail_attachment_reads_{false};
};

// An engine that creates runs in a FakeStore and publishes events to subscribers on the
// caller's thread.
class FakeApi : public ServeApi {
 public:
  explicit FakeApi(FakeStore& store) : store_(store) {}

  std::vector<SuiteInfo> suites;
  std::vector<ScheduleInfo> schedules;
  bool ready = true;
  RunRequest last_request;

  // Appends `events` to the journal of `run_id` and calls its subscribers.
  void Publish(std::int64_t run_id, const std::vector<store::RunEvent>& events) {
    for (const store::RunEvent& e : events) store_.AddEvent(run_id, e);
    std::vector<std::shared_ptr<RunEventCallback>> callbacks;
    {
      std::lock_guard lock(mu_);
      for (const auto& [id, weak] : subscribers_) {
        if (id != run_id) continue;
        if (auto cb = weak.lock()) callbacks.push_back(cb);
      }
    }
    for (const auto& cb : callbacks) (*cb)(events);
  }

  // Returns how many subscriptions of `run_id` are alive.
  int Subscribers(std::int64_t run_id) {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [id, weak] : subscribers_) n += id == run_id && !weak.expired();
    return n;
  }

  // ServeApi
  std::vector<SuiteInfo> Suites() const override { return suites; }

  Result<TriggeredRun> Trigger(const RunRequest& request) override {
    std::lock_guard lock(mu_);
    last_request = request;
    TriggeredRun result;
    const auto suite = std::find_if(suites.begin(), suites.end(),
                                    [&](const SuiteInfo& s) { return s.name == request.suite; });
    if (suite == suites.end()) return Error{ErrorCode::kNotFound, "no suite " + request.suite};
    if (request.filter == "(") return Error{ErrorCode::kInvalid, "filter: bad regex"};
    if (!request.idempotency_key.empty()) {
      if (const auto it = keys_.find(request.idempotency_key); it != keys_.end()) {
        result.run = *store_.GetRun(it->second);
        result.created = false;
        return result;
      }
    }
    store::Run run;
    run.suite = request.suite;
    run.trigger = request.trigger;
    run.filter = request.filter;
    run.reference = request.reference;
    run.initiated_by = request.initiated_by;
    run.on_behalf_of = request.on_behalf_of;
    run.labels = request.labels;
    run.params = request.params;
    run.max_attempts = request.max_attempts;
    run.timeout_ms = request.timeout_ms;
    run.idempotency_key = request.idempotency_key;
    run.retry_of = request.retry_of;
    run.hold_on_failure = request.hold_on_failure;
    run.created_at_ns = 1'700'000'000'000'000'000;
    result.run = store_.CreateRun(run, suite->tests)->run;
    if (!request.idempotency_key.empty()) keys_[request.idempotency_key] = result.run.id;
    return result;
  }

  // Stores the request as a finished run (its tests passed), keeping the request.
  Result<store::Run> Ingest(const IngestRequest& request) override {
    std::lock_guard lock(mu_);
    last_ingest = request;
    store::Run run;
    run.suite = request.suite;
    run.status = store::RunStatus::kPassed;
    run.trigger = store::Trigger::kIngest;
    run.reference = request.reference;
    run.environment = request.environment;
    run.initiated_by = request.initiated_by;
    run.on_behalf_of = request.on_behalf_of;
    run.started_at_ns = request.started_at_ns;
    run.finished_at_ns = request.finished_at_ns;
    return store_.CreateRun(run, request.tests)->run;
  }
  IngestRequest last_ingest;

  Result<store::Run> Cancel(std::int64_t run_id) override {
    std::optional<store::Run> run = store_.GetRun(run_id);
    if (!run) return Error{ErrorCode::kNotFound, "no run"};
    if (store::IsFinished(run->status)) return Error{ErrorCode::kConflict, "already finished"};
    store_.SetStatus(run_id, store::RunStatus::kCancelled);
    return *store_.GetRun(run_id);
  }

  // Releases a held run: it is running again.
  Result<store::Run> Release(std::int64_t run_id) override {
    std::optional<store::Run> run = store_.GetRun(run_id);
    if (!run) return Error{ErrorCode::kNotFound, "no run"};
    if (run->status != store::RunStatus::kHeld) return Error{ErrorCode::kConflict, "not held"};
    store_.SetStatus(run_id, store::RunStatus::kRunning);
    return *store_.GetRun(run_id);
  }

  Result<store::Run> Retry(std::int64_t run_id, bool only_failed,
                           const std::string& by, const std::string& on_behalf_of) override {
    std::optional<store::Run> run = store_.GetRun(run_id);
    if (!run) return Error{ErrorCode::kNotFound, "no run"};
    if (!store::IsFinished(run->status)) return Error{ErrorCode::kConflict, "not finished"};
    last_retry_only_failed = only_failed;
    store::Run copy = *run;
    copy.id = 0;
    copy.status = store::RunStatus::kQueued;
    copy.trigger = store::Trigger::kRetry;
    copy.retry_of = run_id;
    copy.initiated_by = by;
    copy.on_behalf_of = on_behalf_of;
    return store_.CreateRun(copy, {})->run;
  }
  bool last_retry_only_failed = false;

  std::vector<ScheduleInfo> Schedules() const override {
    std::lock_guard lock(mu_);
    return schedules;
  }
  Result<void> CreateSchedule(const store::StoredSchedule& s) override {
    std::lock_guard lock(mu_);
    if (s.spec == "bad") return Error{ErrorCode::kInvalid, "spec: bad cron"};
    for (const ScheduleInfo& existing : schedules) {
      if (existing.name == s.name) return Error{ErrorCode::kConflict, "name taken"};
    }
    schedules.push_back(ScheduleInfo{.name = s.name,
                                     .suite = s.suite,
                                     .spec = s.spec,
                                     .time_zone = s.time_zone,
                                     .filter = s.filter,
                                     .paused = s.paused,
                                     .next_run_ns = s.paused ? 0 : 1'800'000'000'000'000'000});
    return {};
  }
  Result<void> DeleteSchedule(const std::string& name) override {
    std::lock_guard lock(mu_);
    for (auto it = schedules.begin(); it != schedules.end(); ++it) {
      if (it->name != name) continue;
      if (it->from_code) return Error{ErrorCode::kConflict, "declared in code"};
      schedules.erase(it);
      return {};
    }
    return Error{ErrorCode::kNotFound, "no schedule " + name};
  }
  Result<void> PauseSchedule(const std::string& name, bool paused) override {
    std::lock_guard lock(mu_);
    for (ScheduleInfo& s : schedules) {
      if (s.name == name) {
        s.paused = paused;
        s.next_run_ns = paused ? 0 : 1'800'000'000'000'000'000;
        return {};
      }
    }
    return Error{ErrorCode::kNotFound, "no schedule " + name};
  }

  std::shared_ptr<void> Subscribe(std::int64_t run_id, RunEventCallback callback) override {
    auto shared = std::make_shared<RunEventCallback>(std::move(callback));
    std::lock_guard lock(mu_);
    subscribers_.emplace_back(run_id, shared);
    return shared;
  }

  bool Ready() const override { return ready; }
  std::string Metrics() const override { return "# TYPE handoff_runs_total counter\n"; }
  Result<store::BackupInfo> Backup() override {
    ++backups;
    return backup;
  }

  // What Backup answers, and how often it was called.
  Result<store::BackupInfo> backup = store::BackupInfo{};
  int backups = 0;

 private:
  FakeStore& store_;
  mutable std::mutex mu_;
  std::map<std::string, std::int64_t> keys_;
  std::vector<std::pair<std::int64_t, std::weak_ptr<RunEventCallback>>> subscribers_;
};

}  // namespace handoff::testing
