// HTTP requests through the router (src/http/router.h), the API of `serve`, over the
// in-memory store and engine of the HTTP layer's unit tests (tests/unit/serve_fakes.h),
// which hold a finished run (1), a running one (2) and a schedule. The input is a request
// as text:
//
//   METHOD TARGET
//   Header: value
//   ...
//   <empty line>
//   body
//
// Route never throws; every answer has a real status, and an error is the JSON error object.
// With authentication on, nothing of the API is answered or changed without the token.

#include <boost/json.hpp>
#include <string>

#include "auth/auth.h"
#include "fuzz/fuzz_target.h"
#include "http/access.h"
#include "http/router.h"
#include "unit/serve_fakes.h"

namespace handoff::fuzz {
namespace {

// The one token the authenticated pass accepts (HANDOFF_AUTH_TOKEN's, admin).
constexpr std::string_view kToken = "fuzz-admin-token-0123456789";

// Splits the input into a request; false if it has no request line.
bool ReadRequest(std::string_view input, http::Request* req) {
  std::size_t end = input.find('\n');
  const std::string_view line = input.substr(0, end);
  const std::size_t space = line.find(' ');
  if (space == std::string_view::npos) return false;
  req->method = std::string(line.substr(0, space));
  req->target = std::string(line.substr(space + 1));
  while (end != std::string_view::npos) {
    const std::size_t start = end + 1;
    end = input.find('\n', start);
    const std::string_view header = input.substr(start, end - start);
    if (header.empty()) {
      if (end != std::string_view::npos) req->body = std::string(input.substr(end + 1));
      break;
    }
    const std::size_t colon = header.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = header.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    req->headers.emplace_back(header.substr(0, colon), value);
  }
  return true;
}

// The state every input starts from.
void Populate(testing::FakeStore& store, testing::FakeApi& api) {
  api.suites.push_back(SuiteInfo{.name = "Checkout",
                                 .namespace_name = "shop",
                                 .labels = {{"team", "payments"}},
                                 .tests = {"Card", "Declined"},
                                 .max_attempts = 2,
                                 .timeout_ms = 60000});
  api.schedules.push_back(ScheduleInfo{.name = "nightly",
                                       .suite = "Checkout",
                                       .spec = "0 3 * * *",
                                       .from_code = true,
                                       .next_run_ns = 1'800'000'000'000'000'000});
  store::Run finished;
  finished.suite = "Checkout";
  finished.status = store::RunStatus::kFailed;
  finished.created_at_ns = 1'700'000'000'000'000'000;
  finished.started_at_ns = finished.created_at_ns + 1'000'000;
  finished.finished_at_ns = finished.started_at_ns + 2'000'000'000;
  finished.params = {{"region", "eu"}};
  const std::int64_t id = store.AddRun(
      finished, {store::TestRow{.name = "Card", .status = store::TestStatus::kPassed, .attempt = 1},
                 store::TestRow{.name = "Declined",
                                .status = store::TestStatus::kFailed,
                                .attempt = 2,
                                .message = "checkout_test.cc:12: declined"}});
  store.AddAttempt(id, store::Attempt{.test = "Declined", .attempt = 2,
                                      .status = store::TestStatus::kFailed});
  store.AddEvent(id, store::RunEvent{.seq = 1, .type = "test", .data = R"({"name":"Card"})"});
  store.AddEvent(id, store::RunEvent{.seq = 2, .type = "run", .data = R"({"status":"failed"})"});
  store::Run running;
  running.suite = "Checkout";
  running.status = store::RunStatus::kRunning;
  running.created_at_ns = finished.finished_at_ns;
  store.AddRun(running, {store::TestRow{.name = "Card", .status = store::TestStatus::kRunning}});
}

}  // namespace
}  // namespace handoff::fuzz

HANDOFF_FUZZ_TARGET(router) {
  using namespace handoff;
  const std::string_view input = fuzz::AsText(data, size);
  (void)http::AcceptsGzip(input);
  std::string decoded;
  (void)http::PercentDecode(input, true, &decoded);

  http::Request req;
  if (!fuzz::ReadRequest(input, &req)) return 0;
  testing::FakeStore store;
  testing::FakeApi api(store);
  fuzz::Populate(store, api);
  http::RunTestsCache cache;
  // Twice: the second GET of a finished run is answered from the cache.
  for (int i = 0; i < 2; ++i) {
    const http::Response response = http::Route(req, api, store, &cache);
    FUZZ_CHECK(response.status >= 100 && response.status <= 599);
    if (response.status >= 400 && response.content_type == "application/json") {
      boost::system::error_code ec;
      const boost::json::value body = boost::json::parse(response.FullBody(), ec);
      FUZZ_CHECK(!ec);
      const boost::json::object* object = body.if_object();
      FUZZ_CHECK(object != nullptr && object->contains("error"));
      const boost::json::value& error = object->at("error");
      FUZZ_CHECK(error.is_object() && error.as_object().contains("code") &&
                 error.as_object().at("code").is_string());
    }
    FUZZ_CHECK(response.BodySize() == response.FullBody().size());
  }

  // Again with authentication on: without the one valid token (in a header or the session
  // cookie), no API request but the session's own is answered, and nothing changes.
  static const auth::Authenticator authenticator =
      auth::Authenticator::Create({}, std::string(fuzz::kToken)).value();
  http::AccessPolicy policy;
  policy.auth = &authenticator;
  policy.allowed_hosts = {"localhost", "127.0.0.1"};
  const std::size_t runs_before = store.ListRuns(store::RunQuery{}).size();
  const http::Response guarded = http::Route(req, api, store, &cache, &policy);
  FUZZ_CHECK(guarded.status >= 100 && guarded.status <= 599);
  const std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
  const bool has_token = input.find(fuzz::kToken) != std::string_view::npos;
  if (!has_token && path.starts_with("/api/") && !path.starts_with("/api/v1/session")) {
    FUZZ_CHECK(guarded.status >= 400);
    FUZZ_CHECK(store.ListRuns(store::RunQuery{}).size() == runs_before);
  }
  return 0;
}
