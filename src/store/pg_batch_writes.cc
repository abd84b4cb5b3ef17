#include "store/pg_batch_writes.h"

#include <cstdint>
#include <functional>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "store/output_lines.h"
#include "store/pg_deliveries.h"
#include "store/quiet_attempts.h"
#include "store/value_encoding.h"

namespace handoff::store {
namespace {

// ON CONFLICT DO UPDATE may touch a row once per statement, so the rows are unique by key
// (see AddTests). WITH ORDINALITY ... ORDER BY inserts them in the order they were sent,
// so that the positions of new tests follow their first writes.
constexpr const char* kUpsertTests =
    "INSERT INTO tests (run_id, name, status, attempt, soft, flaky, started_at, duration_ms, "
    "message, seq, trace_id, change, since_run, since_reference, since_at) "
    "SELECT run_id, name, status, attempt, soft, flaky, started_at, "
    "duration_ms, message, seq, trace_id, change, since_run, since_reference, since_at "
    "FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
    "WITH ORDINALITY AS r (run_id, name, status, attempt, soft, flaky, started_at, "
    "duration_ms, message, seq, trace_id, change, since_run, since_reference, since_at, n) "
    "ORDER BY n "
    "ON CONFLICT (run_id, name) DO UPDATE SET status = excluded.status, "
    "attempt = excluded.attempt, soft = excluded.soft, flaky = excluded.flaky, "
    "started_at = excluded.started_at, duration_ms = excluded.duration_ms, "
    "message = excluded.message, seq = excluded.seq, trace_id = excluded.trace_id, "
    "change = excluded.change, since_run = excluded.since_run, "
    "since_reference = excluded.since_reference, since_at = excluded.since_at";
constexpr const char* kUpsertAttempts =
    "INSERT INTO attempts (run_id, test, attempt, status, soft, started_at, duration_ms, "
    "failures, skip_reason, attempt_values, spans, lines, trace_id) "
    "SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
    "ON CONFLICT (run_id, test, attempt) DO UPDATE SET status = excluded.status, "
    "soft = excluded.soft, started_at = excluded.started_at, "
    "duration_ms = excluded.duration_ms, failures = excluded.failures, "
    "skip_reason = excluded.skip_reason, attempt_values = excluded.attempt_values, "
    "spans = excluded.spans, lines = excluded.lines, trace_id = excluded.trace_id";
// Not de-duplicated: a seq written twice fails the statement, as its second insert would.
constexpr const char* kInsertEvents =
    "INSERT INTO run_events (run_id, seq, type, data) SELECT * FROM unnest($1, $2, $3, $4)";
// A resumed attempt attaches again: the later file replaces the earlier.
constexpr const char* kUpsertAttachment =
    "INSERT INTO attachments (run_id, test, attempt, name, media_type, size, data) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id, test, attempt, name) "
    "DO UPDATE SET media_type = excluded.media_type, size = excluded.size, data = excluded.data";

// Keeps, of rows written under one key, the last write at the place of the first.
template <typename Key, typename Row, typename Hash>
class LastWriteOfEach {
 public:
  void Write(Key key, const Row* row) {
    auto [it, inserted] = index_.try_emplace(std::move(key), rows_.size());
    if (inserted) {
      rows_.push_back(row);
    } else {
      rows_[it->second] = row;
    }
  }
  const std::vector<const Row*>& rows() const { return rows_; }

 private:
  std::unordered_map<Key, std::size_t, Hash> index_;
  std::vector<const Row*> rows_;
};

template <typename Key>
struct KeyHash {
  std::size_t operator()(const Key& key) const {
    std::size_t h = std::hash<std::int64_t>{}(std::get<0>(key));
    h ^= std::hash<std::string_view>{}(std::get<1>(key)) + 0x9e3779b97f4a7c15ULL + (h << 6) +
         (h >> 2);
    if constexpr (std::tuple_size_v<Key> == 3) {
      h ^= std::hash<int>{}(std::get<2>(key)) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    }
    return h;
  }
};

using TestKey = std::tuple<std::int64_t, std::string_view>;
using AttemptKey = std::tuple<std::int64_t, std::string_view, int>;
using TestWrite = std::pair<std::int64_t, TestRow>;
using AttemptWrite = std::pair<std::int64_t, Attempt>;

void AddTests(std::span<const WriteBatch* const> batches, std::vector<PgCall>& calls) {
  LastWriteOfEach<TestKey, TestWrite, KeyHash<TestKey>> tests;
  for (const WriteBatch* batch : batches) {
    for (const TestWrite& write : batch->tests) {
      tests.Write(TestKey{write.first, write.second.name}, &write);
    }
  }
  if (tests.rows().empty()) return;
  using Of = PgArray::Of;
  PgArray run_id(Of::kBigint), name(Of::kBytea), status(Of::kText), attempt(Of::kBigint),
      soft(Of::kBoolean), flaky(Of::kBoolean), started_at(Of::kBigint),
      duration_ms(Of::kBigint), message(Of::kBytea), seq(Of::kBigint), trace_id(Of::kText),
      change(Of::kText), since_run(Of::kBigint), since_reference(Of::kText),
      since_at(Of::kBigint);
  for (const TestWrite* write : tests.rows()) {
    const TestRow& t = write->second;
    run_id.Add(write->first);
    name.AddBytes(t.name);
    status.AddText(TestStatusName(t.status));
    attempt.Add(t.attempt);
    soft.Add(t.soft_failure);
    flaky.Add(t.flaky);
    started_at.Add(t.started_at_ns);
    duration_ms.Add(t.duration_ms);
    message.AddBytes(t.message);
    seq.Add(t.seq);
    trace_id.AddText(t.trace_id);
    change.AddText(TestChangeName(t.change));
    since_run.Add(t.failing_since.run_id);
    since_reference.AddText(t.failing_since.reference);
    since_at.Add(t.failing_since.created_at_ns);
  }
  PgCall& call = calls.emplace_back();
  call.sql = kUpsertTests;
  call.params.Add(std::move(run_id)).Add(std::move(name)).Add(std::move(status))
      .Add(std::move(attempt)).Add(std::move(soft)).Add(std::move(flaky))
      .Add(std::move(started_at)).Add(std::move(duration_ms)).Add(std::move(message))
      .Add(std::move(seq)).Add(std::move(trace_id)).Add(std::move(change))
      .Add(std::move(since_run)).Add(std::move(since_reference)).Add(std::move(since_at));
}

void AddAttempts(std::span<const WriteBatch* const> batches, std::vector<PgCall>& calls) {
  LastWriteOfEach<AttemptKey, AttemptWrite, KeyHash<AttemptKey>> attempts;
  for (const WriteBatch* batch : batches) {
    for (const AttemptWrite& write : batch->attempts) {
      // Left out before the last write is chosen, as the one-by-one writes leave it out.
      if (IsQuietPass(write.second)) continue;  // GetAttempts gives it back from the row
      attempts.Write(AttemptKey{write.first, write.second.test, write.second.attempt}, &write);
    }
  }
  if (attempts.rows().empty()) return;
  using Of = PgArray::Of;
  PgArray run_id(Of::kBigint), test(Of::kBytea), attempt(Of::kBigint), status(Of::kText),
      soft(Of::kBoolean), started_at(Of::kBigint), duration_ms(Of::kBigint),
      failures(Of::kBytea), skip_reason(Of::kBytea), values(Of::kBytea), spans(Of::kBytea),
      lines(Of::kBytea), trace_id(Of::kText);
  for (const AttemptWrite* write : attempts.rows()) {
    const Attempt& a = write->second;
    run_id.Add(write->first);
    test.AddBytes(a.test);
    attempt.Add(a.attempt);
    status.AddText(TestStatusName(a.status));
    soft.Add(a.soft_failure);
    started_at.Add(a.started_at_ns);
    duration_ms.Add(a.duration_ms);
    failures.AddBytes(EncodeFailures(a.failures));
    skip_reason.AddBytes(a.skip_reason);
    values.AddBytes(EncodeKeyValues(a.values));
    spans.AddBytes(EncodeSpans(a.spans));
    if (a.lines.empty()) {
      lines.AddNull();
    } else {
      lines.AddBytes(EncodeOutputLines(a.lines, a.started_at_ns));
    }
    trace_id.AddText(a.trace_id);
  }
  PgCall& call = calls.emplace_back();
  call.sql = kUpsertAttempts;
  call.params.Add(std::move(run_id)).Add(std::move(test)).Add(std::move(attempt))
      .Add(std::move(status)).Add(std::move(soft)).Add(std::move(started_at))
      .Add(std::move(duration_ms)).Add(std::move(failures)).Add(std::move(skip_reason))
      .Add(std::move(values)).Add(std::move(spans)).Add(std::move(lines))
      .Add(std::move(trace_id));
}

void AddEvents(std::span<const WriteBatch* const> batches, std::vector<PgCall>& calls) {
  using Of = PgArray::Of;
  PgArray run_id(Of::kBigint), seq(Of::kBigint), type(Of::kText), data(Of::kBytea);
  bool any = false;
  for (const WriteBatch* batch : batches) {
    for (const auto& [id, e] : batch->events) {
      run_id.Add(id);
      seq.Add(e.seq);
      type.AddText(e.type);
      data.AddBytes(e.data);
      any = true;
    }
  }
  if (!any) return;
  PgCall& call = calls.emplace_back();
  call.sql = kInsertEvents;
  call.params.Add(std::move(run_id)).Add(std::move(seq)).Add(std::move(type))
      .Add(std::move(data));
}

// One statement an attachment: each is up to megabytes, and arrays of them would only
// copy the bytes once more.
void AddAttachments(std::span<const WriteBatch* const> batches, std::vector<PgCall>& calls) {
  for (const WriteBatch* batch : batches) {
    for (const auto& [run_id, a] : batch->attachments) {
      PgCall& call = calls.emplace_back();
      call.sql = kUpsertAttachment;
      call.params.Add(run_id).AddBytes(a.info.test).Add(a.info.attempt).AddBytes(a.info.name)
          .Add(a.info.media_type).Add(static_cast<std::int64_t>(a.data.size()))
          .AddBytes(a.data);
    }
  }
}

}  // namespace

void AddBatchCalls(std::span<const WriteBatch* const> batches, std::vector<PgCall>& calls) {
  AddTests(batches, calls);
  AddAttempts(batches, calls);
  AddEvents(batches, calls);
  AddAttachments(batches, calls);
  std::vector<const Delivery*> deliveries;
  for (const WriteBatch* batch : batches) {
    for (const Delivery& d : batch->deliveries) deliveries.push_back(&d);
  }
  AddDeliveryInserts(deliveries, calls);
}

}  // namespace handoff::store
