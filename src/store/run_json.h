#pragma once

// The JSON shapes of stored runs, shared by the HTTP API and the run journal (the live
// stream sends the same objects the API returns). Times are RFC 3339 UTC strings with
// milliseconds ("2026-11-23T10:00:00.123Z"), or null when not reached.

#include <cstdint>
#include <string>
#include <vector>

#include "json/json_writer.h"
#include "store/store.h"

namespace handoff::store {

// Appends a JSON object of string values from (key, value) pairs, in their order: a
// KeyValues list or a std::map<std::string, std::string>.
template <typename Pairs>
void AppendStringObjectJson(std::string& out, const Pairs& pairs) {
  out += '{';
  bool first = true;
  for (const auto& [key, value] : pairs) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, key);
    out += ':';
    AppendJsonString(out, value);
  }
  out += '}';
}

// Appends an RFC 3339 UTC time with milliseconds, quoted, or null for 0.
void AppendTimeJson(std::string& out, std::int64_t time_ns);

// Returns true if the run was asked to run part of its suite (a filter, or a list of tests
// such as a retry of the failed ones): its totals say nothing about the tests it left out,
// so pass-rate trends leave it out.
bool IsPartial(const Run& run);

// Appends {"total","passed","failed","soft_failed","skipped","cancelled","flaky"}.
void AppendTotalsJson(std::string& out, const Totals& totals);

// Appends the run object: id, suite, namespace, status, trigger, initiated_by, reference,
// environment, schedule, created_at, started_at, finished_at, duration_ms, flaky, partial,
// totals, resumed, retry_of, hunt, error, filter, labels, params (as ShownParams: secret values
// redacted), values, and, when `tests` is given, "counts" (the totals of its finished
// tests, with total counting every test, plus "pending" and "running") and "tests" (each
// as AppendTestRowJson).
void AppendRunJson(std::string& out, const Run& run, const std::vector<TestRow>* tests);

// Appends a run's hold (issue 21): {"test","attempt","pid","temp_dir" (the first, or null),
// "temp_dirs","endpoints":[{"runnable","port","endpoint","container_id" or "pid","dir"}],
// "held_at","release_at","released_at" (null while held),"ended" (null while held, else
// "released", "timed_out" or "cancelled")}. AppendRunJson shows it, with
// "hold_on_failure", on a run started with hold_on_failure.
void AppendHoldJson(std::string& out, const RunHold& hold);

// AppendRunJson in two parts, so that the tests of a finished run (which never change) can
// be rendered once and cached: the head is the run object up to "values" without its
// closing brace; the tail is ,"counts":{...},"tests":[...] and the closing brace.
// AppendRunJsonHead + AppendRunJsonTestsTail == AppendRunJson with tests.
void AppendRunJsonHead(std::string& out, const Run& run);
void AppendRunJsonTestsTail(std::string& out, const std::vector<TestRow>& tests);

// Appends {"name","status","attempt","soft_failure","flaky","started_at","duration_ms",
// "message","change","failing_since"}.
void AppendTestRowJson(std::string& out, const TestRow& test);

// Appends the test's comparison with the previous run: ,"change":"still_failing"|null,
// "failing_since":{"run_id":N,"reference":"…","created_at":"…"}|null (part of
// AppendTestRowJson).
void AppendTestChangeJson(std::string& out, const TestRow& test);

// Where an attempt's traces and logs are (serve's link templates); "" for none.
struct AttemptLinks {
  std::string traces;
  std::string logs;
};

// Returns the API path that downloads an attachment of run `run_id`:
// /api/v1/runs/{run}/attachments/{test}/{attempt}/{name}, the test's and the name's bytes
// percent-encoded but the '/' between a test's parts.
std::string AttachmentUrl(std::int64_t run_id, const AttachmentInfo& attachment);

// Appends one attempt with its output, failures (message, file, line), skip reason,
// values, spans, trace id, `links` ({"traces","logs"}, null when empty) and the attachments
// of `attachments` that are this attempt's (name, media_type, size and url, downloads of
// run `run_id`).
void AppendAttemptJson(std::string& out, const Attempt& attempt,
                       const AttemptLinks& links = {},
                       const std::vector<AttachmentInfo>& attachments = {},
                       std::int64_t run_id = 0);

}  // namespace handoff::store
