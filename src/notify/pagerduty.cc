// The "pagerduty" plugin (issue 16): PagerDuty's Events API v2. A failed run triggers an
// alert whose dedup_key is stable per environment, namespace and suite, so that every failed
// run of a suite lands on the same alert; the next passing run of the whole suite that the
// engine calls "recovered" resolves it.

#include <openssl/sha.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "notify/builtin.h"
#include "notify/text.h"

namespace handoff::notify {
namespace {

namespace json = boost::json;

constexpr std::string_view kDefaultApiUrl = "https://events.pagerduty.com";
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
// PagerDuty's limits: a dedup_key of 255 characters, a summary of 1024.
constexpr std::size_t kMaxDedupKey = 255;
constexpr std::size_t kMaxSummary = 1024;
// How much of a run custom_details carries: enough to act on, far below the 512 KB a
// PagerDuty event may have.
constexpr std::size_t kMaxDetailedTests = 20;
constexpr std::size_t kMaxMessage = 500;
constexpr std::size_t kMaxErrorText = 500;

constexpr const char* kAllowedKeys[] = {"routing_key", "api_url", "severity",
                                        "component",   "group",   "class"};
constexpr const char* kSeverities[] = {"critical", "error", "warning", "info"};

// Returns true for the runs PagerDuty hears about: a failed run triggers, a recovered
// run of the whole suite resolves. The destination's policy (--notify-on) does not apply:
// an alert is raised by every failure and only a recovery may close it.
bool WantsRun(Event event, const RunFacts& run, Change change) {
  if (event != Event::kRunFinished) return false;
  if (run.Failed()) return true;
  // Only the recovery of the whole suite resolves: the engine compares a full run with the
  // previous full run, so a failed partial run that triggered the alert is resolved by the
  // next full run only if that one follows a failed full run (else by hand in PagerDuty).
  return run.status == "passed" && !run.partial && change == Change::kRecovered;
}

// The alert of a suite in an environment: the same for every run of it, so PagerDuty folds
// repeated failures into one alert and a recovery resolves that alert.
std::string DedupKey(const RunFacts& run) {
  std::string key = "handoff/" + run.environment + "/" + run.namespace_name + "/" + run.suite;
  key = ValidUtf8(key);
  if (key.size() <= kMaxDedupKey) return key;
  // Too long for PagerDuty: a readable start and the hash of the whole, still one per suite.
  const std::string hash = Sha256Hex(key);
  return key.substr(0, CharBoundary(key, kMaxDedupKey - hash.size() - 1)) + "#" + hash;
}

// The alert's title: "checkout failed in staging: 3 of 40 tests failed (TestA, TestB, …)".
std::string Summary(const RunFacts& run, const std::vector<TestOutcome>& tests) {
  std::string text = run.suite;
  if (run.status == "error") {
    text += " could not run";
  } else {
    text += " failed";
  }
  if (!run.environment.empty()) text += " in " + run.environment;
  if (run.status == "error") {
    if (!run.error.empty()) text += ": " + std::string(FirstLine(run.error));
  } else {
    const std::vector<const TestOutcome*> failed = FailedTests(tests);
    const int failed_count = std::max<int>(run.totals.failed, static_cast<int>(failed.size()));
    text += ": " + std::to_string(failed_count) + " of " + std::to_string(run.totals.total) +
            (run.totals.total == 1 ? " test failed" : " tests failed");
    if (!failed.empty()) {
      text += " (";
      for (std::size_t i = 0; i < failed.size(); ++i) {
        if (i > 0) text += ", ";
        // Stop listing before the cut would fall inside a name.
        if (text.size() + failed[i]->name.size() + 8 > kMaxSummary) {
          text += kEllipsis;
          break;
        }
        text += failed[i]->name;
      }
      text += ")";
    }
  }
  return Cut(ValidUtf8(text), kMaxSummary);
}

// What PagerDuty said was wrong with an event: its `message` and `errors`, or the body's
// first line when it is not PagerDuty's JSON.
std::string ErrorText(std::string_view body) {
  if (body.empty() || body.size() > (1u << 20)) return {};
  boost::system::error_code ec;
  const json::value doc = json::parse(body, ec);
  const json::object* object = ec ? nullptr : doc.if_object();
  if (object == nullptr) return Cut(ValidUtf8(FirstLine(body)), kMaxErrorText);
  std::string text;
  if (const json::value* message = object->if_contains("message");
      message != nullptr && message->is_string()) {
    text = std::string(message->get_string());
  }
  if (const json::value* errors = object->if_contains("errors");
      errors != nullptr && errors->is_array()) {
    std::string list;
    for (const json::value& error : errors->get_array()) {
      if (!error.is_string()) continue;
      if (!list.empty()) list += "; ";
      list += std::string(error.get_string());
    }
    if (!list.empty()) text += text.empty() ? list : " (" + list + ")";
  }
  return Cut(ValidUtf8(text), kMaxErrorText);
}

class PagerDuty final : public Plugin {
 public:
  PagerDuty(std::string routing_key, std::string api_url, std::string host, std::string severity,
            std::string component, std::string group, std::string event_class)
      : routing_key_(std::move(routing_key)),
        api_url_(std::move(api_url)),
        host_(std::move(host)),
        severity_(std::move(severity)),
        component_(std::move(component)),
        group_(std::move(group)),
        class_(std::move(event_class)) {}

  // Plugin
  std::string_view kind() const override { return "pagerduty"; }
  std::string destination() const override { return "PagerDuty (" + host_ + ")"; }
  bool Wants(Event event, const RunFacts& run, Change change) const override {
    return WantsRun(event, run, change);
  }
  Result<Request> Render(const Notification& notification,
                         const RenderContext& context) const override;
  Outcome Classify(const Notification& notification, const Request& request,
                   const Response& response) const override;

 private:
  // Returns `text` with the routing key blanked out, for errors a receiver echoes.
  std::string Redact(std::string text) const {
    for (std::size_t at = text.find(routing_key_); at != std::string::npos;
         at = text.find(routing_key_, at)) {
      text.replace(at, routing_key_.size(), "[redacted]");
    }
    return text;
  }

  std::string routing_key_;
  std::string api_url_;  // without a trailing slash
  std::string host_;
  std::string severity_;
  std::string component_;
  std::string group_;
  std::string class_;
};

Result<Request> PagerDuty::Render(const Notification& notification,
                                  const RenderContext& /*context*/) const {
  const RunFacts& run = notification.run;
  json::object event;
  event["routing_key"] = routing_key_;
  event["dedup_key"] = DedupKey(run);
  if (!run.Failed()) {
    // A resolve names the alert and nothing else.
    event["event_action"] = "resolve";
  } else {
    event["event_action"] = "trigger";
    json::object payload;
    payload["summary"] = Summary(run, notification.tests);
    payload["source"] = run.environment.empty() ? std::string("handoff") : ValidUtf8(run.environment);
    payload["severity"] = severity_;
    if (run.finished_at_ns > 0) payload["timestamp"] = IsoTime(run.finished_at_ns);
    payload["component"] = ValidUtf8(component_.empty() ? run.suite : component_);
    payload["group"] = ValidUtf8(group_.empty() ? run.namespace_name : group_);
    if (!class_.empty()) payload["class"] = ValidUtf8(class_);

    json::object details;
    details["run_id"] = run.id;
    details["suite"] = ValidUtf8(run.suite);
    details["namespace"] = ValidUtf8(run.namespace_name);
    details["environment"] = ValidUtf8(run.environment);
    details["status"] = run.status;
    if (!run.reference.empty()) details["reference"] = ValidUtf8(run.reference);
    if (!run.url.empty()) details["url"] = ValidUtf8(run.url);
    if (!run.error.empty()) details["error"] = Cut(ValidUtf8(run.error), kMaxMessage);
    if (!run.filter.empty()) details["filter"] = ValidUtf8(run.filter);
    details["tests"] = json::object{{"total", run.totals.total},
                                    {"passed", run.totals.passed},
                                    {"failed", run.totals.failed},
                                    {"skipped", run.totals.skipped},
                                    {"flaky", run.totals.flaky}};
    const std::vector<const TestOutcome*> failed = FailedTests(notification.tests);
    json::array failed_tests;
    for (std::size_t i = 0; i < failed.size() && i < kMaxDetailedTests; ++i) {
      std::string file, message;
      int line = 0;
      Locate(*failed[i], &file, &line, &message);
      json::object test;
      test["name"] = ValidUtf8(failed[i]->name);
      test["message"] = Cut(ValidUtf8(message), kMaxMessage);
      if (const std::string note = ChangeNote(*failed[i]); !note.empty()) {
        test["change"] = ValidUtf8(note);
      }
      if (!file.empty()) {
        test["location"] = ValidUtf8(line > 0 ? file + ":" + std::to_string(line) : file);
      }
      failed_tests.push_back(std::move(test));
    }
    details["failed_tests"] = std::move(failed_tests);
    if (failed.size() > kMaxDetailedTests) {
      details["failed_tests_left_out"] = failed.size() - kMaxDetailedTests;
    }
    payload["custom_details"] = std::move(details);
    event["payload"] = std::move(payload);
    event["client"] = "handoff";
    if (!run.url.empty()) {
      event["client_url"] = ValidUtf8(run.url);
      event["links"] = json::array{
          json::object{{"href", ValidUtf8(run.url)}, {"text", "handoff run #" + std::to_string(run.id)}}};
    }
  }
  Request request;
  request.method = "POST";
  request.url = api_url_ + "/v2/enqueue";
  request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
  request.body = json::serialize(event);
  return request;
}

Outcome PagerDuty::Classify(const Notification& /*notification*/, const Request& /*request*/,
                            const Response& response) const {
  Outcome outcome = ClassifyHttp(response, std::chrono::system_clock::now());
  if (outcome.verdict == Verdict::kFailed && response.status >= 400 && response.status < 500) {
    // 400 is an event PagerDuty will never take (ClassifyHttp does not retry it): say why,
    // as PagerDuty said it.
    const std::string why = ErrorText(response.body);
    if (!why.empty()) outcome.error += ": " + Redact(why);
  }
  return outcome;
}

}  // namespace

Result<std::unique_ptr<Plugin>> MakePagerDuty(const PluginConfig& config) {
  for (const auto& [key, value] : config.settings) {
    if (std::find(std::begin(kAllowedKeys), std::end(kAllowedKeys), key) == std::end(kAllowedKeys)) {
      return Error{ErrorCode::kInvalid,
                   "unknown setting \"" + key +
                       "\" (pagerduty takes routing_key, api_url, severity, component, group, class)"};
    }
  }
  for (Event event : config.events) {
    if (event != Event::kRunFinished) {
      return Error{ErrorCode::kInvalid, std::string("pagerduty is told run.finished only, not ") +
                                            EventName(event)};
    }
  }
  // A key read from a file ends with its newline: surrounding whitespace is not part of it.
  const std::string routing_key(Trim(Setting(config, "routing_key")));
  if (routing_key.empty()) {
    return Error{ErrorCode::kInvalid, "pagerduty needs routing_key (the integration key of an "
                                      "Events API v2 integration)"};
  }
  if (std::any_of(routing_key.begin(), routing_key.end(), [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c));
      })) {
    return Error{ErrorCode::kInvalid, "pagerduty's routing_key contains whitespace or control "
                                      "characters (is the file holding more than the key?)"};
  }
  std::string api_url(Trim(Setting(config, "api_url")));
  if (api_url.empty()) api_url = kDefaultApiUrl;
  while (!api_url.empty() && api_url.back() == '/') api_url.pop_back();
  std::string host;
  if (!ParseBaseUrl(api_url, &host)) {
    return Error{ErrorCode::kInvalid, "pagerduty's api_url \"" + ValidUtf8(api_url) +
                                          "\" is not an http:// or https:// URL"};
  }
  std::string severity(Trim(Setting(config, "severity")));
  if (severity.empty()) severity = "error";
  if (std::find(std::begin(kSeverities), std::end(kSeverities), severity) == std::end(kSeverities)) {
    return Error{ErrorCode::kInvalid, "pagerduty's severity \"" + ValidUtf8(severity) +
                                          "\" is not one of critical, error, warning, info"};
  }
  return std::unique_ptr<Plugin>(std::make_unique<PagerDuty>(
      routing_key, api_url, host, severity, std::string(Trim(Setting(config, "component"))),
      std::string(Trim(Setting(config, "group"))), std::string(Trim(Setting(config, "class")))));
}

}  // namespace handoff::notify
