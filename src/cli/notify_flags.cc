#include "cli/notify_flags.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>

#include "duration/duration.h"
#include "engine/serve_engine.h"
#include "http_client/http_client.h"
#include "notify/registry.h"

namespace handoff {

void NotifyCliFlags::Add(CLI::App* cmd) {
  const auto add = [&](const char* flag, std::string& value, const char* env, const char* help) {
    cmd->add_option(flag, value, help)->envname(env)->group("Notifications");
  };
  add("--slack-webhook-url-file", notify.slack_webhook_url_file, "HANDOFF_SLACK_WEBHOOK_URL_FILE",
      "File holding a Slack incoming webhook URL (or HANDOFF_SLACK_WEBHOOK_URL)");
  add("--slack-token-file", notify.slack_token_file, "HANDOFF_SLACK_TOKEN_FILE",
      "File holding a Slack bot token for chat.postMessage (or HANDOFF_SLACK_TOKEN)");
  add("--slack-channel", notify.slack_channel, "HANDOFF_SLACK_CHANNEL",
      "Channel the bot token posts to, e.g. #e2e");
  add("--slack-api-url", notify.slack_api_url, "HANDOFF_SLACK_API_URL",
      "Slack's Web API base URL (default https://slack.com/api)");
  add("--pagerduty-routing-key-file", notify.pagerduty_routing_key_file,
      "HANDOFF_PAGERDUTY_ROUTING_KEY_FILE",
      "File holding a PagerDuty Events API v2 routing key (or HANDOFF_PAGERDUTY_ROUTING_KEY)");
  add("--pagerduty-api-url", notify.pagerduty_api_url, "HANDOFF_PAGERDUTY_API_URL",
      "PagerDuty Events API base URL (default https://events.pagerduty.com)");
  add("--pagerduty-severity", notify.pagerduty_severity, "HANDOFF_PAGERDUTY_SEVERITY",
      "Severity of alerts: critical, error (default), warning or info");
  add("--github-token-file", notify.github_token_file, "HANDOFF_GITHUB_TOKEN_FILE",
      "File holding a GitHub token for commit statuses or check runs (or HANDOFF_GITHUB_TOKEN)");
  add("--github-repo", notify.github_repo, "HANDOFF_GITHUB_REPO",
      "Repository of the commits runs test, OWNER/NAME");
  add("--github-api-url", notify.github_api_url, "HANDOFF_GITHUB_API_URL",
      "GitHub API base URL (default https://api.github.com; GitHub Enterprise: https://HOST/api/v3)");
  add("--webhook-url", notify.webhook_url, "HANDOFF_WEBHOOK_URL",
      "URL that receives signed JSON notifications");
  add("--webhook-secret-file", notify.webhook_secret_file, "HANDOFF_WEBHOOK_SECRET_FILE",
      "File holding the webhook's whsec_ signing secret(s) (or HANDOFF_WEBHOOK_SECRET)");
  add("--webhook-events", notify.webhook_events, "HANDOFF_WEBHOOK_EVENTS",
      "Events the webhook receives: run.started,run.finished,test.failed (default run.finished)");
  add("--notify-on", notify.notify_on, "HANDOFF_NOTIFY_ON",
      "Which finished runs Slack and webhooks hear about: always, failure (default) or change");
  add("--notify-config", notify.notify_config, "HANDOFF_NOTIFY_CONFIG",
      "JSON file of notification destinations with routing rules (docs/integrations.md)");
  add("--external-url", external_url, "HANDOFF_EXTERNAL_URL",
      "Address users reach the UI at, e.g. https://handoff.example.com: messages link to runs there");
  cmd->add_option("--notify-retry-backoff", retry_backoff)
      ->envname("HANDOFF_NOTIFY_RETRY_BACKOFF")
      ->group("");
  cmd->add_option("--notify-give-up-after", give_up_after)
      ->envname("HANDOFF_NOTIFY_GIVE_UP_AFTER")
      ->group("");
  cmd->add_option("--notify-request-timeout", request_timeout)
      ->envname("HANDOFF_NOTIFY_REQUEST_TIMEOUT")
      ->group("");
}

Result<void> NotifyCliFlags::Apply(ServeOptions& options,
                                   const std::vector<std::string>& hook_names) const {
  const auto invalid = [](std::string message) { return Error{ErrorCode::kInvalid, std::move(message)}; };
  const auto duration = [&](const std::string& text, const char* flag,
                            std::chrono::milliseconds* out) -> Result<void> {
    auto parsed = ParseDuration(text);
    if (!parsed || *parsed <= std::chrono::nanoseconds(0)) {
      return invalid(std::string(flag) + ": invalid duration \"" + text + "\" (e.g. 10s)");
    }
    *out = std::chrono::ceil<std::chrono::milliseconds>(*parsed);
    return {};
  };
  if (Result<void> r = duration(retry_backoff, "--notify-retry-backoff",
                                &options.delivery.first_backoff); !r.ok()) return r;
  if (Result<void> r = duration(give_up_after, "--notify-give-up-after",
                                &options.delivery.give_up_after); !r.ok()) return r;
  if (Result<void> r = duration(request_timeout, "--notify-request-timeout",
                                &options.delivery.request_timeout); !r.ok()) return r;
  options.delivery.max_backoff = std::max(options.delivery.max_backoff, options.delivery.first_backoff);

  if (!external_url.empty()) {
    std::string error;
    if (!http::ParseUrl(external_url, &error)) return invalid("--external-url: " + error);
  }
  options.external_url = external_url;

  const notify::EnvLookup env = [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  Result<std::vector<notify::PluginConfig>> configs = notify::LoadDestinations(notify, env);
  if (!configs.ok()) return std::move(configs).error();
  const notify::Registry registry = notify::BuiltinRegistry();
  for (notify::PluginConfig& config : *configs) {
    for (const std::string& hook : hook_names) {
      if (hook == config.name) {
        return invalid("notification destination \"" + config.name +
                       "\": a hook added with WithHook has that name; name it differently");
      }
    }
    Result<std::unique_ptr<notify::Plugin>> plugin = registry.Make(config);
    if (!plugin.ok()) return std::move(plugin).error();
    NotifyDestination destination;
    destination.plugin = std::shared_ptr<const notify::Plugin>(std::move(plugin).value());
    // The settings may hold secrets: the plugin has what it needs, nothing else keeps them.
    config.settings.clear();
    destination.config = std::move(config);
    options.destinations.push_back(std::move(destination));
  }
  return {};
}

}  // namespace handoff
