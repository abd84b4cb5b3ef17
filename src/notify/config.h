#pragma once

// Where notification destinations come from (issue 16): one destination per plugin from
// serve's flags (and their HANDOFF_* variables), any number from --notify-config FILE. Secrets
// are read here from files or environment variables, never taken from argv.
//
// --notify-config is a JSON document:
//   {"destinations": [
//     {"name": "payments", "plugin": "slack", "on": "change", "events": ["run.finished"],
//      "route": {"suites": ["checkout*"], "namespaces": ["shop"], "labels": {"team": "pay"},
//                "environments": ["staging"]},
//      "token_file": "/run/secrets/slack-token", "channel": "#payments"}]}
// Every other key of a destination is a setting of its plugin; a key ending in `_file` names
// a file holding the value (its final newline dropped), one ending in `_env` names an
// environment variable holding it.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "notify/registry.h"

namespace handoff::notify {

// serve's notification flags, as given (each flag also reads HANDOFF_<FLAG>).
struct NotifyFlags {
  std::string slack_webhook_url_file;
  std::string slack_token_file;
  std::string slack_channel;
  std::string slack_api_url;
  std::string pagerduty_routing_key_file;
  std::string pagerduty_api_url;
  std::string pagerduty_severity;
  std::string github_token_file;
  std::string github_repo;
  std::string github_api_url;
  std::string webhook_url;
  std::string webhook_secret_file;
  std::string webhook_events;  // comma-separated event names; empty: the plugin's default
  std::string notify_on;       // always | failure | change; empty: failure
  std::string notify_config;   // a file of destinations
};

// Reads an environment variable (nullopt: unset); injected so tests need no real environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Returns the destinations the flags and the config file give, secrets read: from
// `<x>_file` flags, or from the variables HANDOFF_SLACK_WEBHOOK_URL, HANDOFF_SLACK_TOKEN,
// HANDOFF_PAGERDUTY_ROUTING_KEY, HANDOFF_GITHUB_TOKEN and HANDOFF_WEBHOOK_SECRET. kInvalid
// says which flag, file or destination is wrong (never a secret's value).
Result<std::vector<PluginConfig>> LoadDestinations(const NotifyFlags& flags, const EnvLookup& env);

// Parses a --notify-config document (`origin` names it in errors); `_file` settings are read
// relative to nothing (absolute or the working directory).
Result<std::vector<PluginConfig>> ParseNotifyConfig(std::string_view json, std::string_view origin,
                                                    std::optional<Policy> default_policy,
                                                    const EnvLookup& env);

}  // namespace handoff::notify
