// The "github" plugin (issue 16): the result of a run of a commit, shown on that commit.
// With a personal or fine-grained token it sets a commit status (pending when the run
// starts, success/failure/error when it ends); with a GitHub App installation token (or
// mode "check") it creates a check run instead, with a Markdown summary and an annotation
// per failure at its file and line. Optionally it comments on a pull request named in the
// run's params.
//
// A delivery may take several requests (GitHub takes at most 50 annotations a request, the
// rest are appended by updating the check run; the comment comes last). Each step's answer
// says what the next step is (Verdict::kNext and Outcome::progress, a small JSON object):
//   {"step":"annotations","check_run":ID,"sent":N}  append annotations N.. to check run ID
//   {"step":"comment"}                             comment on the pull request
// A check run created for run.started keeps {"run":RUN,"check_run":ID}, so that the
// finished run completes that same check run instead of creating a second one.
//
// GitHub shows the latest status (or check run) of a context, so a run's start must reach
// GitHub before its end: the delivery worker sends one destination's notifications of a run
// in order. Creating requests (a check run, a comment) are not idempotent: a retry after an
// answer that was lost makes a second one, which GitHub shows in place of the first.

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
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

constexpr std::string_view kDefaultApiUrl = "https://api.github.com";
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
// GitHub's limits: a status description of 140 characters, 50 annotations a request, a check
// run summary of 65535 characters and a comment of 65536; ours stay below them.
constexpr std::size_t kMaxDescription = 140;
constexpr std::size_t kAnnotationsPerRequest = 50;
constexpr std::size_t kMaxSummary = 60000;
constexpr std::size_t kMaxTitle = 255;
constexpr std::size_t kMaxAnnotationMessage = 4000;
constexpr std::size_t kMaxListedTests = 100;
constexpr std::size_t kMaxListedMessage = 300;
constexpr std::size_t kMaxErrorText = 500;
// How long to wait after a rate limit that does not say when it ends (GitHub: "at least one
// minute"), and the longest wait a reset time may ask for.
constexpr std::chrono::seconds kRateLimitWait{60};
constexpr std::chrono::seconds kMaxWait{3600};

constexpr const char* kAllowedKeys[] = {"token", "repo", "api_url", "mode", "context",
                                        "pr_comment_param"};

enum class Mode { kStatus, kCheck };

// A run's reference names a commit GitHub can show a result on only when it is a full SHA:
// the statuses endpoint and check runs' head_sha take the 40 hex digits, and an abbreviated
// one may be ambiguous or refused (422) only after the run, when nobody is watching.
bool IsFullSha(std::string_view reference) {
  return reference.size() == 40 && std::all_of(reference.begin(), reference.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) != 0;
         });
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Owner and repository names as GitHub allows them: letters, digits, '-', '_' and '.'.
bool IsRepoPart(std::string_view part) {
  return !part.empty() && part.size() <= 100 && part != "." && part != ".." &&
         std::all_of(part.begin(), part.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
         });
}

// The pull request a run names in param `param` ("123" or "#123"), if any.
std::optional<std::int64_t> PullRequest(const RunFacts& run, std::string_view param) {
  if (param.empty()) return std::nullopt;
  for (const auto& [key, value] : run.params) {
    if (key != param) continue;
    std::string_view text = Trim(value);
    if (!text.empty() && text.front() == '#') text.remove_prefix(1);
    if (text.empty() || text.size() > 12) return std::nullopt;
    std::int64_t number = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc() || ptr != text.data() + text.size() || number <= 0) return std::nullopt;
    return number;
  }
  return std::nullopt;
}

// Text put in a Markdown code span: no backticks to close it, one line.
std::string CodeSpan(std::string_view text, std::size_t max_bytes) {
  std::string out = Cut(ValidUtf8(FirstLine(text)), max_bytes);
  std::replace(out.begin(), out.end(), '`', '\'');
  std::replace(out.begin(), out.end(), '\r', ' ');
  return "`" + out + "`";
}

// The annotations of a finished run: one per failed test that says where it failed, each
// once (identical ones would make the steps of a delivery indistinguishable).
std::vector<json::object> Annotations(const std::vector<TestOutcome>& tests) {
  std::vector<json::object> annotations;
  std::set<std::string> seen;
  for (const TestOutcome* test : FailedTests(tests)) {
    std::string file, message;
    int line = 0;
    Locate(*test, &file, &line, &message);
    if (file.empty() || line <= 0) continue;
    // GitHub wants a path in the repository; "./x.cc" is "x.cc".
    std::string_view path = file;
    while (path.size() > 2 && path.substr(0, 2) == "./") path.remove_prefix(2);
    json::object annotation;
    annotation["path"] = ValidUtf8(path);
    annotation["start_line"] = line;
    annotation["end_line"] = line;
    annotation["annotation_level"] = "failure";
    annotation["title"] = Cut(ValidUtf8(test->name), kMaxTitle);
    annotation["message"] =
        Cut(ValidUtf8(message.empty() ? std::string("failed") : message), kMaxAnnotationMessage);
    if (seen.insert(json::serialize(annotation)).second) {
      annotations.push_back(std::move(annotation));
    }
  }
  return annotations;
}

// "3 of 40 tests failed", as titles and descriptions say it.
std::string Counts(const RunFacts& run, const std::vector<const TestOutcome*>& failed) {
  const int failed_count = std::max<int>(run.totals.failed, static_cast<int>(failed.size()));
  const int total = run.totals.total;
  if (run.status == "passed") {
    std::string text = std::to_string(total) + (total == 1 ? " test passed" : " tests passed");
    if (run.totals.skipped > 0) text += ", " + std::to_string(run.totals.skipped) + " skipped";
    if (run.totals.flaky > 0) text += ", " + std::to_string(run.totals.flaky) + " flaky";
    return text;
  }
  return std::to_string(failed_count) + " of " + std::to_string(total) +
         (total == 1 ? " test failed" : " tests failed");
}

// The one-line result of a finished run.
std::string Title(const RunFacts& run, const std::vector<const TestOutcome*>& failed) {
  if (run.status == "cancelled") return "Run cancelled";
  if (run.status == "error") return "The run could not finish";
  return Counts(run, failed);
}

// A commit status' description (at most 140 characters).
std::string Description(const Notification& notification) {
  const RunFacts& run = notification.run;
  std::string text;
  if (notification.event == Event::kRunStarted) {
    text = "Running";
    if (!run.environment.empty()) text += " in " + run.environment;
  } else if (run.status == "error") {
    text = "Could not run";
    if (!run.error.empty()) text += ": " + std::string(FirstLine(run.error));
  } else if (run.status == "cancelled") {
    text = "Cancelled";
  } else {
    const std::vector<const TestOutcome*> failed = FailedTests(notification.tests);
    text = Counts(run, failed);
    if (!failed.empty()) {
      text += " (";
      for (std::size_t i = 0; i < failed.size(); ++i) {
        if (i > 0) text += ", ";
        // Room for ", …)" after the last name listed.
        if (text.size() + failed[i]->name.size() + 8 > kMaxDescription) {
          text += kEllipsis;
          break;
        }
        text += failed[i]->name;
      }
      text += ")";
    }
  }
  return Cut(ValidUtf8(text), kMaxDescription);
}

// The Markdown report of a finished run: what it ran, the counts, the failed tests with
// their first message and location, and the link to the run.
std::string MarkdownReport(const Notification& notification) {
  const RunFacts& run = notification.run;
  std::string md = "**" + run.suite + "**";
  if (!run.namespace_name.empty()) md += " (namespace `" + run.namespace_name + "`)";
  if (!run.environment.empty()) md += " in `" + run.environment + "`";
  if (!run.reference.empty()) md += " at `" + run.reference.substr(0, 12) + "`";
  if (!run.filter.empty()) md += ", filter " + CodeSpan(run.filter, 200);
  md += ": **" + run.status + "**\n\n";
  md += "| Total | Passed | Failed | Soft failed | Skipped | Flaky |\n";
  md += "|---:|---:|---:|---:|---:|---:|\n";
  md += "| " + std::to_string(run.totals.total) + " | " + std::to_string(run.totals.passed) +
        " | " + std::to_string(run.totals.failed) + " | " + std::to_string(run.totals.soft_failed) +
        " | " + std::to_string(run.totals.skipped) + " | " + std::to_string(run.totals.flaky) +
        " |\n";
  if (!run.error.empty()) md += "\nError: " + CodeSpan(run.error, 1000) + "\n";
  const std::vector<const TestOutcome*> failed = FailedTests(notification.tests);
  if (!failed.empty()) {
    md += "\n**Failed tests**\n\n";
    for (std::size_t i = 0; i < failed.size() && i < kMaxListedTests; ++i) {
      std::string file, message;
      int line = 0;
      Locate(*failed[i], &file, &line, &message);
      md += "- " + CodeSpan(failed[i]->name, 300);
      if (const std::string note = ChangeNote(*failed[i]); !note.empty()) {
        md += " " + CodeSpan(note, 200);
      }
      if (!message.empty()) md += ": " + CodeSpan(message, kMaxListedMessage);
      if (!file.empty()) {
        md += " at " + CodeSpan(line > 0 ? file + ":" + std::to_string(line) : file, 300);
      }
      md += "\n";
    }
    if (failed.size() > kMaxListedTests) {
      md += "- and " + std::to_string(failed.size() - kMaxListedTests) + " more\n";
    }
  }
  if (!run.url.empty()) md += "\n[handoff run #" + std::to_string(run.id) + "](" + run.url + ")\n";
  return Cut(ValidUtf8(md), kMaxSummary);
}

std::string StatusState(const Notification& notification) {
  if (notification.event == Event::kRunStarted) return "pending";
  if (notification.run.status == "passed") return "success";
  if (notification.run.status == "failed") return "failure";
  return "error";  // error, cancelled: the commit was not tested
}

// GitHub has no "error" conclusion: a run that could not finish failed the check.
std::string Conclusion(const RunFacts& run) {
  if (run.status == "passed") return "success";
  if (run.status == "cancelled") return "cancelled";
  if (run.status == "failed" || run.status == "error") return "failure";
  return "neutral";
}

struct Progress {
  std::string step;  // "annotations" | "comment"
  std::int64_t check_run = 0;
  std::size_t sent = 0;
};

std::string ProgressJson(const Progress& progress) {
  json::object object{{"step", progress.step}};
  if (progress.step == "annotations") {
    object["check_run"] = progress.check_run;
    object["sent"] = progress.sent;
  }
  return json::serialize(object);
}

std::optional<json::object> ParseObject(std::string_view text) {
  if (text.empty() || text.size() > (1u << 22)) return std::nullopt;
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.get_object());
}

std::int64_t IntField(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return 0;
  if (value->is_int64()) return value->get_int64();
  if (value->is_uint64() && value->get_uint64() <= INT64_MAX) {
    return static_cast<std::int64_t>(value->get_uint64());
  }
  return 0;
}

Result<Progress> ParseProgress(std::string_view text) {
  std::optional<json::object> object = ParseObject(text);
  const json::value* step = object ? object->if_contains("step") : nullptr;
  if (step == nullptr || !step->is_string()) {
    return Error{ErrorCode::kCorrupt, "github: unreadable delivery progress"};
  }
  Progress progress;
  progress.step = std::string(step->get_string());
  if (progress.step == "comment") return progress;
  progress.check_run = IntField(*object, "check_run");
  const std::int64_t sent = IntField(*object, "sent");
  if (progress.step != "annotations" || progress.check_run <= 0 || sent < 0) {
    return Error{ErrorCode::kCorrupt, "github: unreadable delivery progress"};
  }
  progress.sent = static_cast<std::size_t>(sent);
  return progress;
}

// What GitHub said was wrong: its `message` and the first of its `errors`.
std::string GithubErrorText(std::string_view body) {
  std::optional<json::object> object = ParseObject(body);
  if (!object) return Cut(ValidUtf8(FirstLine(body.substr(0, 4096))), kMaxErrorText);
  std::string text;
  if (const json::value* message = object->if_contains("message");
      message != nullptr && message->is_string()) {
    text = std::string(message->get_string());
  }
  if (const json::value* errors = object->if_contains("errors");
      errors != nullptr && errors->is_array() && !errors->get_array().empty()) {
    const json::value& first = errors->get_array().front();
    std::string detail;
    if (first.is_string()) {
      detail = std::string(first.get_string());
    } else if (const json::object* error = first.if_object(); error != nullptr) {
      // Its message when it has one, else what and where ("missing_field state").
      for (const char* key : {"message", "code", "field"}) {
        const json::value* v = error->if_contains(key);
        if (v != nullptr && v->is_string() && !v->get_string().empty()) {
          if (!detail.empty()) detail += " ";
          detail += std::string(v->get_string());
          if (std::string_view(key) == "message") break;
        }
      }
    }
    if (!detail.empty()) text += text.empty() ? detail : " (" + detail + ")";
  }
  return Cut(ValidUtf8(text), kMaxErrorText);
}

class Github final : public Plugin {
 public:
  Github(std::string token, std::string repo, std::string api_url, std::string host, Mode mode,
         std::string context_prefix, std::string pr_param, std::vector<Event> events)
      : token_(std::move(token)),
        repo_(std::move(repo)),
        api_url_(std::move(api_url)),
        host_(std::move(host)),
        mode_(mode),
        context_prefix_(std::move(context_prefix)),
        pr_param_(std::move(pr_param)),
        events_(std::move(events)) {}

  // Plugin
  std::string_view kind() const override { return "github"; }
  std::string destination() const override {
    return repo_ + " on " + (host_ == "api.github.com" ? std::string("github.com") : host_);
  }
  bool Wants(Event event, const RunFacts& run, Change change) const override;
  Result<Request> Render(const Notification& notification,
                         const RenderContext& context) const override;
  Outcome Classify(const Notification& notification, const Request& request,
                   const Response& response) const override;

 private:
  Request Make(std::string method, std::string path, const json::object& body) const {
    Request request;
    request.method = std::move(method);
    request.url = api_url_ + "/repos/" + repo_ + path;
    request.headers = {{"Authorization", "Bearer " + token_},
                       {"Accept", "application/vnd.github+json"},
                       {"X-GitHub-Api-Version", "2022-11-28"},
                       {"Content-Type", "application/json"}};
    request.body = json::serialize(body);
    return request;
  }

  std::string Context(const RunFacts& run) const {
    return Cut(ValidUtf8(context_prefix_ + "/" + run.suite), kMaxTitle);
  }

  // Returns true if a finished run's delivery ends with a comment on a pull request.
  bool Comments(const Notification& notification) const {
    return notification.event == Event::kRunFinished &&
           PullRequest(notification.run, pr_param_).has_value();
  }

  Request StatusRequest(const Notification& notification) const;
  Request CheckStarted(const Notification& notification) const;
  Request CheckFinished(const Notification& notification, const RenderContext& context) const;
  Request CheckAppend(const Notification& notification, const Progress& progress) const;
  Request Comment(const Notification& notification) const;
  Outcome ClassifyRefusal(const Response& response) const;

  // Returns `text` with the token blanked out, for errors a receiver echoes.
  std::string Redact(std::string text) const {
    for (std::size_t at = text.find(token_); at != std::string::npos; at = text.find(token_, at)) {
      text.replace(at, token_.size(), "[redacted]");
    }
    return text;
  }

  std::string token_;
  std::string repo_;     // OWNER/NAME
  std::string api_url_;  // without a trailing slash
  std::string host_;
  Mode mode_;
  std::string context_prefix_;
  std::string pr_param_;
  std::vector<Event> events_;  // empty: run.started and run.finished
};

bool Github::Wants(Event event, const RunFacts& run, Change /*change*/) const {
  // Every run of a commit, whatever the policy: a commit shows the result of each run.
  if (event != Event::kRunStarted && event != Event::kRunFinished) return false;
  if (!events_.empty() && std::find(events_.begin(), events_.end(), event) == events_.end()) {
    return false;
  }
  return IsFullSha(run.reference);
}

Request Github::StatusRequest(const Notification& notification) const {
  const RunFacts& run = notification.run;
  json::object body;
  body["state"] = StatusState(notification);
  body["context"] = Context(run);
  body["description"] = Description(notification);
  if (!run.url.empty()) body["target_url"] = ValidUtf8(run.url);
  return Make("POST", "/statuses/" + Lower(run.reference), body);
}

Request Github::CheckStarted(const Notification& notification) const {
  const RunFacts& run = notification.run;
  json::object body;
  body["name"] = Context(run);
  body["head_sha"] = Lower(run.reference);
  body["status"] = "in_progress";
  if (run.started_at_ns > 0) body["started_at"] = IsoTime(run.started_at_ns);
  if (!run.url.empty()) body["details_url"] = ValidUtf8(run.url);
  body["external_id"] = std::to_string(run.id);
  body["output"] = json::object{{"title", "Running"}, {"summary", Description(notification)}};
  return Make("POST", "/check-runs", body);
}

Request Github::CheckFinished(const Notification& notification,
                              const RenderContext& context) const {
  const RunFacts& run = notification.run;
  const std::vector<json::object> annotations = Annotations(notification.tests);
  json::array first;
  for (std::size_t i = 0; i < annotations.size() && i < kAnnotationsPerRequest; ++i) {
    first.push_back(annotations[i]);
  }
  json::object body;
  body["name"] = Context(run);
  body["status"] = "completed";
  body["conclusion"] = Conclusion(run);
  if (run.finished_at_ns > 0) body["completed_at"] = IsoTime(run.finished_at_ns);
  if (!run.url.empty()) body["details_url"] = ValidUtf8(run.url);
  body["external_id"] = std::to_string(run.id);
  body["output"] = json::object{{"title", Cut(ValidUtf8(Title(run, FailedTests(notification.tests))), kMaxTitle)},
                                {"summary", MarkdownReport(notification)},
                                {"annotations", std::move(first)}};
  // The check run this run's start created, if that delivery got through: completed in place.
  if (std::optional<json::object> kept = ParseObject(context.suite_reply)) {
    const std::int64_t check_run = IntField(*kept, "check_run");
    if (IntField(*kept, "run") == run.id && check_run > 0) {
      return Make("PATCH", "/check-runs/" + std::to_string(check_run), body);
    }
  }
  body["head_sha"] = Lower(run.reference);
  if (run.started_at_ns > 0) body["started_at"] = IsoTime(run.started_at_ns);
  return Make("POST", "/check-runs", body);
}

Request Github::CheckAppend(const Notification& notification, const Progress& progress) const {
  const RunFacts& run = notification.run;
  const std::vector<json::object> annotations = Annotations(notification.tests);
  json::array next;
  for (std::size_t i = progress.sent; i < annotations.size() && next.size() < kAnnotationsPerRequest;
       ++i) {
    next.push_back(annotations[i]);
  }
  // An update's output needs its title and summary again; its annotations are appended.
  json::object body;
  body["output"] = json::object{{"title", Cut(ValidUtf8(Title(run, FailedTests(notification.tests))), kMaxTitle)},
                                {"summary", MarkdownReport(notification)},
                                {"annotations", std::move(next)}};
  return Make("PATCH", "/check-runs/" + std::to_string(progress.check_run), body);
}

Request Github::Comment(const Notification& notification) const {
  const RunFacts& run = notification.run;
  const std::vector<const TestOutcome*> failed = FailedTests(notification.tests);
  std::string heading = "### handoff: " + run.suite + " " +
                        (run.status == "passed" ? std::string("passed") : run.status) + "\n\n";
  json::object body;
  body["body"] = Cut(ValidUtf8(heading) + MarkdownReport(notification), kMaxSummary + 500);
  const std::int64_t number = PullRequest(run, pr_param_).value_or(0);
  return Make("POST", "/issues/" + std::to_string(number) + "/comments", body);
}

Result<Request> Github::Render(const Notification& notification,
                               const RenderContext& context) const {
  if (!IsFullSha(notification.run.reference)) {
    return Error{ErrorCode::kInvalid, "github: the run's reference is not a commit SHA"};
  }
  if (notification.event != Event::kRunStarted && notification.event != Event::kRunFinished) {
    return Error{ErrorCode::kInvalid, std::string("github: nothing to send for ") +
                                          EventName(notification.event)};
  }
  if (context.progress.empty()) {
    if (mode_ == Mode::kStatus) return StatusRequest(notification);
    if (notification.event == Event::kRunStarted) return CheckStarted(notification);
    return CheckFinished(notification, context);
  }
  Result<Progress> progress = ParseProgress(context.progress);
  if (!progress.ok()) return progress.error();
  if (progress->step == "comment") {
    if (!Comments(notification)) {
      return Error{ErrorCode::kCorrupt, "github: a comment step for a run without a pull request"};
    }
    return Comment(notification);
  }
  return CheckAppend(notification, *progress);
}

Outcome Github::ClassifyRefusal(const Response& response) const {
  const auto now = std::chrono::system_clock::now();
  Outcome outcome = ClassifyHttp(response, now);
  if (!response.error.empty()) return outcome;
  const int status = response.status;
  const std::string why = Redact(GithubErrorText(response.body));
  if (status == 403 || status == 429) {
    // GitHub's rate limits: primary ones say when they end (x-ratelimit-reset), secondary
    // ones may say retry-after, or only "secondary rate limit" in the message.
    std::optional<std::chrono::seconds> wait =
        ParseRetryAfter(response.Header("retry-after"), now);
    if (!wait && Trim(response.Header("x-ratelimit-remaining")) == "0") {
      std::int64_t reset = 0;
      const std::string text(Trim(response.Header("x-ratelimit-reset")));
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), reset);
      if (ec == std::errc() && ptr == text.data() + text.size() && !text.empty()) {
        const std::int64_t now_s =
            std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
        wait = std::chrono::seconds(std::clamp<std::int64_t>(reset - now_s, 1, kMaxWait.count()));
      } else {
        wait = kRateLimitWait;
      }
    }
    if (!wait && (status == 429 || Lower(why).find("rate limit") != std::string::npos)) {
      wait = kRateLimitWait;
    }
    if (wait) {
      outcome.verdict = Verdict::kRetry;
      outcome.retry_after = wait;
    } else {
      outcome.verdict = Verdict::kFailed;
    }
  } else if (status == 410) {
    // GitHub answers 410 when a repository's issues are turned off: the comment cannot be
    // made, but statuses and checks of this destination still can.
    outcome.verdict = Verdict::kFailed;
  }
  if (!why.empty()) outcome.error += ": " + why;
  return outcome;
}

Outcome Github::Classify(const Notification& notification, const Request& request,
                         const Response& response) const {
  if (!response.error.empty() || response.status < 200 || response.status >= 300) {
    return ClassifyRefusal(response);
  }
  Outcome outcome;  // delivered unless a step follows
  // The step this answers, read from the request's path below the repository.
  const std::string_view url = request.url;
  const std::string prefix = api_url_ + "/repos/" + repo_;
  const std::string_view path =
      url.substr(0, prefix.size()) == prefix ? url.substr(prefix.size()) : std::string_view();
  if (path.substr(0, 11) == "/check-runs") {
    std::optional<json::object> answer = ParseObject(response.body);
    std::int64_t check_run = answer ? IntField(*answer, "id") : 0;
    if (check_run <= 0 && request.method == "PATCH") {
      const std::size_t slash = url.rfind('/');
      std::from_chars(url.data() + slash + 1, url.data() + url.size(), check_run);
    }
    if (notification.event == Event::kRunStarted) {
      // Kept so that the run's end completes this check run.
      if (check_run > 0) {
        outcome.progress = json::serialize(
            json::object{{"run", notification.run.id}, {"check_run", check_run}});
      }
      return outcome;
    }
    // Which annotations this request carried tells how many are sent: the list is the
    // same at every step, and each annotation is in it once.
    const std::vector<json::object> annotations = Annotations(notification.tests);
    std::size_t sent = annotations.size();
    std::optional<json::object> sent_body = ParseObject(request.body);
    const json::value* output = sent_body ? sent_body->if_contains("output") : nullptr;
    const json::value* carried =
        output != nullptr && output->is_object() ? output->get_object().if_contains("annotations")
                                                 : nullptr;
    if (carried != nullptr && carried->is_array() && !carried->get_array().empty() &&
        carried->get_array().front().is_object()) {
      const json::object& head = carried->get_array().front().get_object();
      auto at = std::find(annotations.begin(), annotations.end(), head);
      if (at != annotations.end()) {
        sent = static_cast<std::size_t>(at - annotations.begin()) + carried->get_array().size();
      }
    }
    if (sent < annotations.size()) {
      if (check_run <= 0) {
        outcome.verdict = Verdict::kFailed;
        outcome.error = "GitHub answered HTTP " + std::to_string(response.status) +
                        " without the check run's id: " + std::to_string(annotations.size() - sent) +
                        " annotations not sent";
        return outcome;
      }
      outcome.verdict = Verdict::kNext;
      outcome.progress = ProgressJson({"annotations", check_run, sent});
      return outcome;
    }
  }
  if (path.substr(0, 8) != "/issues/" && Comments(notification)) {
    outcome.verdict = Verdict::kNext;
    outcome.progress = ProgressJson({"comment", 0, 0});
  }
  return outcome;
}

}  // namespace

Result<std::unique_ptr<Plugin>> MakeGithub(const PluginConfig& config) {
  for (const auto& [key, value] : config.settings) {
    if (std::find(std::begin(kAllowedKeys), std::end(kAllowedKeys), key) == std::end(kAllowedKeys)) {
      return Error{ErrorCode::kInvalid,
                   "unknown setting \"" + key +
                       "\" (github takes token, repo, api_url, mode, context, pr_comment_param)"};
    }
  }
  for (Event event : config.events) {
    if (event != Event::kRunStarted && event != Event::kRunFinished) {
      return Error{ErrorCode::kInvalid, std::string("github is told run.started and run.finished "
                                                    "only, not ") +
                                            EventName(event)};
    }
  }
  // A token read from a file ends with its newline: surrounding whitespace is not part of it.
  const std::string token(Trim(Setting(config, "token")));
  if (token.empty()) {
    return Error{ErrorCode::kInvalid, "github needs token (a token that may write statuses, or "
                                      "a GitHub App installation token for check runs)"};
  }
  if (HasSpaceOrControl(token)) {
    return Error{ErrorCode::kInvalid, "github's token contains whitespace or control characters "
                                      "(is the file holding more than the token?)"};
  }
  const std::string repo(Trim(Setting(config, "repo")));
  const std::size_t slash = repo.find('/');
  if (slash == std::string::npos || !IsRepoPart(std::string_view(repo).substr(0, slash)) ||
      !IsRepoPart(std::string_view(repo).substr(slash + 1))) {
    return Error{ErrorCode::kInvalid, repo.empty()
                                          ? std::string("github needs repo (OWNER/NAME)")
                                          : "github's repo \"" + ValidUtf8(Cut(repo, 200)) +
                                                "\" is not OWNER/NAME"};
  }
  std::string api_url(Trim(Setting(config, "api_url")));
  if (api_url.empty()) api_url = kDefaultApiUrl;
  while (!api_url.empty() && api_url.back() == '/') api_url.pop_back();
  std::string host;
  if (!ParseBaseUrl(api_url, &host)) {
    return Error{ErrorCode::kInvalid, "github's api_url \"" + ValidUtf8(api_url) +
                                          "\" is not an http:// or https:// URL"};
  }
  const std::string mode_name(Trim(Setting(config, "mode")));
  Mode mode = Mode::kStatus;
  if (mode_name == "check") {
    mode = Mode::kCheck;
  } else if (mode_name.empty()) {
    // Installation tokens of GitHub Apps (the only ones that may write check runs) start
    // with "ghs_".
    mode = token.rfind("ghs_", 0) == 0 ? Mode::kCheck : Mode::kStatus;
  } else if (mode_name != "status") {
    return Error{ErrorCode::kInvalid, "github's mode \"" + ValidUtf8(Cut(mode_name, 100)) +
                                          "\" is not status or check"};
  }
  std::string context(Trim(Setting(config, "context")));
  while (!context.empty() && context.back() == '/') context.pop_back();
  if (context.empty()) context = "handoff";
  if (std::any_of(context.begin(), context.end(),
                  [](char c) { return std::iscntrl(static_cast<unsigned char>(c)); }) ||
      context.size() > 100) {
    return Error{ErrorCode::kInvalid,
                 "github's context must be at most 100 characters without control characters"};
  }
  return std::unique_ptr<Plugin>(std::make_unique<Github>(
      token, repo, api_url, host, mode, ValidUtf8(context),
      std::string(Trim(Setting(config, "pr_comment_param"))), config.events));
}

}  // namespace handoff::notify
