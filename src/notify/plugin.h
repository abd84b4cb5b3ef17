#pragma once

// A destination of notifications (issue 16): a built-in plugin (Slack, PagerDuty, GitHub, a
// signed webhook) configured for one place to send to. A plugin only decides and renders: it
// says which notifications it wants (Wants, at commit time), turns a stored notification into
// HTTP requests (Render) and reads the answers (Classify). The delivery worker (part
// `delivery`) sends, retries with backoff, and keeps every state in the store, so plugins hold
// no state and are tested as pure functions.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "notify/notification.h"

namespace handoff::notify {

using Headers = std::vector<std::pair<std::string, std::string>>;

// An HTTP request to send. `url` is absolute (http:// or https://).
struct Request {
  std::string method = "POST";
  std::string url;
  Headers headers;  // Content-Type included; the worker adds User-Agent
  std::string body;
};

// What came back: a response, or `error` (connection refused, a timeout) and status 0.
struct Response {
  int status = 0;
  Headers headers;
  std::string body;
  std::string error;

  // Returns the value of header `name` (any case), or "".
  std::string Header(std::string_view name) const;
};

// What the worker does after an answer.
enum class Verdict : std::uint8_t {
  kDelivered,  // done
  kNext,       // this step is done; Render again with `progress` for the next request
  kRetry,      // try the same step again later (5xx, 429, no answer)
  kFailed,     // give up now: retrying cannot help (400 from PagerDuty, 401, 404)
  kDisabled,   // the receiver asked never to be called again (410): this destination stops
};

struct Outcome {
  Verdict verdict = Verdict::kDelivered;
  std::string error;  // why, for kRetry/kFailed/kDisabled: shown as the delivery's last_error
  // Wait at least this long before the retry (Retry-After of a 429 or 503).
  std::optional<std::chrono::seconds> retry_after;
  // Kept with the delivery: the progress of a multi-step delivery (kNext), and after
  // kDelivered what a later delivery of the same destination and suite may need (the Slack
  // message a recovery answers in its thread). Never a secret.
  std::string progress;
};

// What a render may use besides the notification.
struct RenderContext {
  std::string progress;     // the delivery's own progress so far ("" at the first step)
  std::string suite_reply;  // the progress kept by this destination's latest delivered
                            // notification of the same suite that kept one ("" if none)
};

// The policy of a destination: which finished runs it tells about.
enum class Policy : std::uint8_t {
  kAlways,   // every finished run
  kFailure,  // failed runs (failed, error)
  kChange,   // runs of the whole suite whose result differs from the previous one (and a
             // suite's first run)
};

const char* PolicyName(Policy policy);

// Returns true if a destination with `policy` tells about a finished `run` whose comparison
// with the suite's previous run is `change`: the one place the policies are decided.
bool PolicyWants(Policy policy, const RunFacts& run, Change change);
bool ParsePolicy(std::string_view name, Policy* out);

// Which runs a destination hears about: every list that is not empty must match (suite and
// namespace names may use `*` globs; labels must all be present with these values).
struct Route {
  std::vector<std::string> suites;
  std::vector<std::string> namespaces;
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::string> environments;

  bool Matches(const RunFacts& run) const;
};

// A configured destination.
class Plugin {
 public:
  virtual ~Plugin() = default;

  // The plugin's registered name: "slack", "pagerduty", "github", "webhook".
  virtual std::string_view kind() const = 0;
  // Where it sends, as it may be shown (API, UI, logs): a channel, a repository, a URL
  // without credentials. Never a secret.
  virtual std::string destination() const = 0;

  // Returns true if this destination is to be told `event` about `run` (already routed:
  // the caller checked the route). `change` is kNone for partial runs and for events other
  // than run.finished.
  virtual bool Wants(Event event, const RunFacts& run, Change change) const = 0;

  // Returns the next request of the delivery of `notification`.
  virtual Result<Request> Render(const Notification& notification,
                                 const RenderContext& context) const = 0;

  // Reads the answer to `request` (a step of the delivery of `notification`).
  virtual Outcome Classify(const Notification& notification, const Request& request,
                           const Response& response) const = 0;
};

// What every plugin does with a plain answer: 2xx delivered; 429 and 503 retried after their
// Retry-After (seconds or an HTTP date); other 5xx, 408 and no answer retried; 410 disabled;
// 3xx failed (redirects are not followed: a receiver that moved must be reconfigured); other
// 4xx failed. `now` reads an HTTP-date Retry-After.
Outcome ClassifyHttp(const Response& response, std::chrono::system_clock::time_point now);

// Parses Retry-After: delay-seconds or an HTTP-date (relative to `now`); nullopt if neither.
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value,
                                                    std::chrono::system_clock::time_point now);

}  // namespace handoff::notify
