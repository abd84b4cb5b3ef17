#pragma once

// Internal to the http part: the handlers the route table (route_table.cc) calls, one group
// per file, and the helpers they share to read requests and write responses. Not part of
// router.h: nothing outside src/http/ uses these.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "engine/serve_api.h"
#include "http/json_input.h"
#include "http/route_table.h"
#include "http/router.h"

namespace handoff::http {

// The prefix of every API path.
inline constexpr std::string_view kApiPrefix = "/api/v1";

// --- Request and response helpers (messages.cc) ------------------------------------------

// Returns a 404 not_found error saying `message`.
Response NotFound(std::string_view message);
// Returns a 400 invalid_argument error saying `message`.
Response BadRequest(std::string_view message);
// Returns the error response for an engine call's error: kNotFound 404 not_found, kInvalid
// 400 invalid_argument, kConflict 409 conflict, kUnavailable 503 unavailable, any other
// code 500 internal; the error's message is the response's.
Response FromError(const Error& error);
// Returns a JSON response with `status` and `body`.
Response JsonResponse(int status, std::string body);
// Returns the value of the first query parameter `name`, or nullptr.
const std::string* QueryValue(const QueryParams& query, std::string_view name);
// Returns the positive decimal integer in `text` if it fits in int64; nullopt otherwise.
std::optional<std::int64_t> ParsePositiveId(std::string_view text);
// Reads the positive integer query parameter `name` (at most `max`; `fallback` if absent)
// into `value`; returns the 400 to send instead when it is not one.
std::optional<Response> IntParam(const QueryParams& query, const char* name, int fallback,
                                 int max, int* value);
// Appends ,"next_cursor":"ID" (the cursor of the next page: runs older than `id`), or
// ,"next_cursor":null when `id` is 0 (no next page).
void AppendNextCursor(std::string& out, std::int64_t id);
// Returns the suite named `name`, or nullopt.
std::optional<SuiteInfo> FindSuite(ServeApi& api, const std::string& name);
// The 404s of a suite and of a run that do not exist.
Response NoSuchSuite(const std::string& name);
Response NoSuchRun(std::int64_t id);

// --- The browser's session (routes_session.cc) -------------------------------------------

// GET /api/v1/session
Response GetSession(const RouteContext& ctx);
// POST /api/v1/session
Response LogIn(const RouteContext& ctx);
// DELETE /api/v1/session
Response LogOut(const RouteContext& ctx);

// --- Suites: list, one suite, history, verdict, flaky (routes_suites.cc) ---------------------------

// GET /api/v1/suites
Response ListSuites(const RouteContext& ctx);
// GET /api/v1/suites/{suite}
Response GetSuite(const RouteContext& ctx);
// GET /api/v1/suites/{suite}/history
Response SuiteHistory(const RouteContext& ctx);
// GET /api/v1/suites/{suite}/verdict?reference=REF: the latest finished run of the suite
// triggered with REF, as a deploy gate reads it (docs/serve.md, "Verdicts").
Response SuiteVerdict(const RouteContext& ctx);
// GET /api/v1/flaky
Response Flaky(const RouteContext& ctx);

// --- History and grouping: a test across runs, failures by cause, search (routes_history.cc)

// GET /api/v1/suites/{suite}/tests/{test...}: the test's rows in the suite's runs.
Response TestHistory(const RouteContext& ctx);
// GET /api/v1/suites/{suite}/failures: the causes of failure of its recent runs, ranked.
Response SuiteFailures(const RouteContext& ctx);
// GET /api/v1/runs/{run:id}/failures: the run's failures grouped by cause.
Response RunFailures(const RouteContext& ctx);
// GET /api/v1/search/tests: tests of stored runs by name and failure text.
Response SearchTests(const RouteContext& ctx);

// --- Runs: trigger, list, read, cancel, retry, report, events (routes_runs.cc) -----------

// Returns the run object with its tests, as GET /runs/{id} answers (the tests of a finished
// run from `cache` if there, which may be null). With `gzip`, a finished run's body is sent
// gzip-compressed: the cached gzip if the run header is unchanged since it was compressed,
// else compressed anew (and cached).
Response RunResponse(int status, const store::Run& run, store::Store& store,
                     RunTestsCache* cache, bool gzip = false);

// Reads field `i` of a body that describes a run (POST /suites/{suite}/runs, /hunts) into
// `run`: filter, labels, params, reference, initiated_by, tests, max_attempts, timeout,
// trigger. Nullopt if the field is none of these; false (the body's error says why) if its
// value is bad.
std::optional<bool> ReadRunField(BodyFields& body, std::size_t i, RunRequest& run);
// Reads field `i` as a duration of at least 1ms ("30s", "5m"); nullopt (the body's error
// says why) if it is not one.
std::optional<std::chrono::milliseconds> ReadDurationField(BodyFields& body, std::size_t i);
// Makes the authenticated caller, if any, the run's initiated_by; what the body said becomes
// on_behalf_of (shown, never trusted).
void SetCaller(const RouteContext& ctx, RunRequest& run);

// POST /api/v1/suites/{suite}/runs
Response TriggerRun(const RouteContext& ctx);
// GET /api/v1/runs
Response ListRuns(const RouteContext& ctx);
// POST /api/v1/suites/{suite}/ingest: a report produced elsewhere, stored as a finished run
// (routes_ingest.cc).
Response IngestReport(const RouteContext& ctx);
// GET /api/v1/runs/{run:id}
Response GetRun(const RouteContext& ctx);
// GET /api/v1/runs/{run:id}/tests/{test...}
Response GetTest(const RouteContext& ctx);
// POST /api/v1/runs/{run:id}/cancel
Response CancelRun(const RouteContext& ctx);
// POST /api/v1/runs/{run:id}/release
Response ReleaseRun(const RouteContext& ctx);
// POST /api/v1/runs/{run:id}/retry
Response RetryRun(const RouteContext& ctx);
// GET /api/v1/runs/{run:id}/report
Response RunReport(const RouteContext& ctx);
// GET /api/v1/runs/{run}/deliveries: the run's notifications and how each went.
Response RunDeliveries(const RouteContext& ctx);
// GET /api/v1/runs/{run:id}/attachments: every attachment of the run (routes_attachments.cc).
Response ListRunAttachments(const RouteContext& ctx);
// GET /api/v1/runs/{run:id}/attachments/{test}/{attempt}/{name}: one attachment's bytes,
// inline only when a browser cannot run it as a page (event/attachment.h's IsInlineSafe).
Response DownloadAttachment(const RouteContext& ctx);
// GET /api/v1/runs/{run:id}/events
Response RunEvents(const RouteContext& ctx);

// --- Hunts (routes_hunts.cc) --------------------------------------------------------------

// POST /api/v1/suites/{suite}/hunts
Response StartHunt(const RouteContext& ctx);
// GET /api/v1/hunts
Response ListHunts(const RouteContext& ctx);
// GET /api/v1/hunts/{hunt:id}
Response GetHunt(const RouteContext& ctx);
// POST /api/v1/hunts/{hunt:id}/stop and /cancel
Response StopHunt(const RouteContext& ctx);
Response CancelHunt(const RouteContext& ctx);

// --- Schedules (routes_schedules.cc) ------------------------------------------------------

// GET /api/v1/schedules
Response ListSchedules(const RouteContext& ctx);
// POST /api/v1/schedules
Response CreateSchedule(const RouteContext& ctx);
// GET /api/v1/schedules/{schedule}
Response GetSchedule(const RouteContext& ctx);
// DELETE /api/v1/schedules/{schedule}
Response DeleteSchedule(const RouteContext& ctx);
// POST /api/v1/schedules/{schedule}/pause
Response PauseSchedule(const RouteContext& ctx);
// POST /api/v1/schedules/{schedule}/resume
Response ResumeSchedule(const RouteContext& ctx);
// Appends the JSON object of schedule `s` (also embedded in GET /api/v1/suites/{suite}).
void AppendScheduleJson(std::string& out, const ScheduleInfo& s);

// --- Operations: health, readiness, metrics, backup (routes_admin.cc) ---------------------

// GET /healthz
Response Healthz(const RouteContext& ctx);
// GET /readyz
Response Readyz(const RouteContext& ctx);
// GET /metrics
Response Metrics(const RouteContext& ctx);
// POST /api/v1/admin/backup
Response AdminBackup(const RouteContext& ctx);

// --- The web UI (web_files.cc) ------------------------------------------------------------

// Returns true if `path` names an embedded file of web/ or a page of the app.
bool IsWebPath(std::string_view path);
// GET of any path IsWebPath accepts: the file, with an ETag, gzip when accepted.
Response ServeWebFile(const RouteContext& ctx);

}  // namespace handoff::http
