#pragma once

// What a notification says (issue 16): one event of one run, decided once when the run's
// state is committed and kept in the store's outbox until every destination has it. Its JSON
// form (ToJson) is the body of a signed webhook and the document every other plugin (Slack,
// PagerDuty, GitHub) renders its own message from when it sends, so a delivery retried after
// a restart says exactly what the first attempt said.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "event/outcome.h"

namespace handoff::notify {

// What happened. Names as in webhooks: "run.started", "run.finished", "test.failed".
enum class Event : std::uint8_t { kRunStarted, kRunFinished, kTestFailed };

const char* EventName(Event event);
// Returns false when `name` is not an event's name.
bool ParseEvent(std::string_view name, Event* out);

// How a finished run of the whole suite compares with the suite's previous one (in the
// same environment). Runs of part of a suite (a filter, a list of tests) compare with
// nothing: kNone. Names: "", "first", "broke", "recovered", "still_failing", "still_passing".
enum class Change : std::uint8_t { kNone, kFirst, kBroke, kRecovered, kStillFailing, kStillPassing };

const char* ChangeName(Change change);
bool ParseChange(std::string_view name, Change* out);

// One test's outcome as a notification shows it.
struct TestOutcome {
  std::string name;    // "Test" or "Test/Sub"
  std::string status;  // passed | failed | skipped | cancelled
  bool soft_failure = false;
  bool flaky = false;
  int attempt = 0;
  std::int64_t duration_ms = 0;
  std::string message;  // first failure or skip reason, without its location
  std::string file;     // where the failure was reported ("" when unknown)
  int line = 0;
  // How it compares with the suite's previous run (store::TestChange's names: "new_failure",
  // "still_failing", "fixed", "new_test"; "" for none), and the first run of its current
  // failures (run id 0: none). Absent from documents written before they existed.
  std::string change;
  std::int64_t failing_since_run = 0;
  std::string failing_since_reference;
  std::int64_t failing_since_ns = 0;
};

// The run a notification is about, as every surface shows it (params with secrets redacted).
struct RunFacts {
  std::int64_t id = 0;
  std::string suite;
  std::string namespace_name;
  std::string status;  // queued | running | passed | failed | cancelled | error
  std::string trigger;
  std::string initiated_by;
  std::string on_behalf_of;
  std::string reference;
  std::string environment;
  std::string schedule;
  std::string filter;
  bool partial = false;  // a filter or a list of tests: not a run of the whole suite
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<std::string, std::string>> params;  // secret values redacted
  std::int64_t created_at_ns = 0;
  std::int64_t started_at_ns = 0;
  std::int64_t finished_at_ns = 0;
  bool flaky = false;
  std::string error;
  Totals totals;
  std::string url;  // the run's page under --external-url ("" when not configured)

  // Returns true for the results that fail a run: failed and error.
  bool Failed() const { return status == "failed" || status == "error"; }
};

// The suite's previous finished run of the whole suite, when there is one.
struct PreviousRun {
  std::int64_t id = 0;
  std::string status;
  std::string url;
};

// One notification: what a delivery carries.
struct Notification {
  std::string id;  // the delivery's id: stable across retries, receivers de-duplicate by it
  Event event = Event::kRunFinished;
  std::int64_t created_at_ns = 0;  // when it was decided
  RunFacts run;
  Change change = Change::kNone;
  std::optional<PreviousRun> previous;
  // run.finished: every test of the run (top-level tests and subtests, in the run's order);
  // test.failed: the test that failed; run.started: none.
  std::vector<TestOutcome> tests;
};

// Splits a stored failure message "file.cc:12: message" into its parts (file "" and line 0
// when it has no location).
void SplitLocation(std::string_view located, std::string* file, int* line, std::string* message);

// Returns the notification as the JSON document a webhook receives:
// {"type":"run.finished","timestamp":"2026-12-04T11:20:08Z","id":"…","data":{"run":{…},
//  "change":"broke","previous":{…}|null,"tests":[…]}}.
std::string ToJson(const Notification& notification);

// Reads back a document ToJson wrote (the stored outbox row). kCorrupt when it is not one.
Result<Notification> FromJson(std::string_view json);

}  // namespace handoff::notify
