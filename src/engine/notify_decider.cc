#include "engine/notify_decider.h"

#include <utility>

#include "notify/signature.h"

namespace handoff {
namespace {

bool IsPartial(const store::Run& run) { return !run.filter.empty() || !run.tests.empty(); }

bool FailedStatus(store::RunStatus s) {
  return s == store::RunStatus::kFailed || s == store::RunStatus::kError;
}

notify::TestOutcome MakeOutcome(const store::TestRow& row) {
  notify::TestOutcome out;
  out.name = row.name;
  out.status = store::TestStatusName(row.status);
  out.soft_failure = row.soft_failure;
  out.flaky = row.flaky;
  out.attempt = row.attempt;
  out.duration_ms = row.duration_ms;
  notify::SplitLocation(row.message, &out.file, &out.line, &out.message);
  out.change = store::TestChangeName(row.change);
  out.failing_since_run = row.failing_since.run_id;
  out.failing_since_reference = row.failing_since.reference;
  out.failing_since_ns = row.failing_since.created_at_ns;
  return out;
}

}  // namespace

notify::Change DecideChange(const store::Run& run, const std::optional<store::Run>& previous) {
  if (IsPartial(run) || run.status == store::RunStatus::kCancelled ||
      !store::IsFinished(run.status)) {
    return notify::Change::kNone;
  }
  if (!previous) return notify::Change::kFirst;
  const bool was = FailedStatus(previous->status);
  const bool is = FailedStatus(run.status);
  if (was && is) return notify::Change::kStillFailing;
  if (was) return notify::Change::kRecovered;
  if (is) return notify::Change::kBroke;
  return notify::Change::kStillPassing;
}

notify::RunFacts MakeRunFacts(const store::Run& r, const std::string& external_url) {
  notify::RunFacts f;
  f.id = r.id;
  f.suite = r.suite;
  f.namespace_name = r.namespace_name;
  f.status = store::RunStatusName(r.status);
  f.trigger = store::TriggerName(r.trigger);
  f.initiated_by = r.initiated_by;
  f.on_behalf_of = r.on_behalf_of;
  f.reference = r.reference;
  f.environment = r.environment;
  f.schedule = r.schedule;
  f.filter = r.filter;
  f.partial = IsPartial(r);
  f.labels = r.labels;
  f.params = store::ShownParams(r);  // notifications leave the server: never a secret
  f.created_at_ns = r.created_at_ns;
  f.started_at_ns = r.started_at_ns;
  f.finished_at_ns = r.finished_at_ns;
  f.flaky = r.flaky;
  f.error = r.error;
  if (r.totals) f.totals = *r.totals;
  if (!external_url.empty()) {
    std::string base = external_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    f.url = base + "/runs/" + std::to_string(r.id);
  }
  return f;
}

NotifyDecider::NotifyDecider(const std::vector<NotifyDestination>& destinations,
                             std::string external_url,
                             std::function<std::chrono::system_clock::time_point()> now)
    : destinations_(destinations), external_url_(std::move(external_url)), now_(std::move(now)) {}

std::vector<store::Delivery> NotifyDecider::Decide(notify::Notification n, const store::Run& run,
                                                   const std::string& test) const {
  std::vector<store::Delivery> out;
  if (destinations_.empty()) return out;
  const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  now_().time_since_epoch())
                                  .count();
  n.created_at_ns = now_ns;
  const char* event = notify::EventName(n.event);
  for (const NotifyDestination& d : destinations_) {
    if (!d.config.route.Matches(n.run)) continue;
    if (!d.plugin->Wants(n.event, n.run, n.change)) continue;
    store::Delivery delivery;
    delivery.id = notify::DeliveryId(run.id, run.created_at_ns, d.config.name, event, test);
    n.id = delivery.id;
    delivery.run_id = run.id;
    delivery.suite = run.suite;
    delivery.destination = d.config.name;
    delivery.plugin = std::string(d.plugin->kind());
    delivery.target = d.plugin->destination();
    delivery.event = event;
    delivery.payload = notify::ToJson(n);
    delivery.created_at_ns = now_ns;
    delivery.next_attempt_at_ns = now_ns;
    out.push_back(std::move(delivery));
  }
  return out;
}

std::vector<store::Delivery> NotifyDecider::RunStarted(const store::Run& run) const {
  if (destinations_.empty()) return {};
  notify::Notification n;
  n.event = notify::Event::kRunStarted;
  n.run = MakeRunFacts(run, external_url_);
  return Decide(std::move(n), run, "");
}

std::vector<store::Delivery> NotifyDecider::RunFinished(const store::Run& run,
                                                        const std::vector<store::TestRow>& rows,
                                                        const std::optional<store::Run>& previous) const {
  if (destinations_.empty()) return {};
  notify::Notification n;
  n.event = notify::Event::kRunFinished;
  n.run = MakeRunFacts(run, external_url_);
  n.change = DecideChange(run, previous);
  if (n.change != notify::Change::kNone && previous) {
    notify::PreviousRun p;
    p.id = previous->id;
    p.status = store::RunStatusName(previous->status);
    p.url = MakeRunFacts(*previous, external_url_).url;
    n.previous = p;
  }
  // The tests the result model counts (a subtest only an earlier attempt ran is left out).
  const auto attempts = store::RetriedTopLevelAttempts(rows);
  for (const store::TestRow& row : rows) {
    if (!store::IsCurrentRow(row, attempts)) continue;
    n.tests.push_back(MakeOutcome(row));
  }
  return Decide(std::move(n), run, "");
}

std::vector<store::Delivery> NotifyDecider::TestFailed(const store::Run& run,
                                                       const store::TestRow& row) const {
  if (destinations_.empty()) return {};
  notify::Notification n;
  n.event = notify::Event::kTestFailed;
  n.run = MakeRunFacts(run, external_url_);
  n.tests.push_back(MakeOutcome(row));
  return Decide(std::move(n), run, row.name);
}

}  // namespace handoff
