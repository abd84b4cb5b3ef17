#include "notify/config.h"

#include <boost/json.hpp>

#include <fstream>
#include <set>

namespace handoff::notify {
namespace {

namespace json = boost::json;

Error Invalid(std::string message) { return Error{ErrorCode::kInvalid, std::move(message)}; }

// A secret or a URL from a file: its content without the final newline(s).
Result<std::string> ReadValueFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Invalid(std::string(what) + ": cannot read \"" + path + "\"");
  }
  // A secret, a URL or a configuration is small: a bigger file (or /dev/zero) is a mistake.
  constexpr std::size_t kMaxFile = 1 << 20;
  std::string value(kMaxFile + 1, '\0');
  in.read(value.data(), static_cast<std::streamsize>(value.size()));
  value.resize(static_cast<std::size_t>(in.gcount()));
  if (value.size() > kMaxFile) {
    return Invalid(std::string(what) + ": \"" + path + "\" is larger than 1 MiB");
  }
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r' || value.back() == ' ' ||
                            value.back() == '\t')) {
    value.pop_back();
  }
  if (value.empty()) return Invalid(std::string(what) + ": \"" + path + "\" is empty");
  return value;
}

// A secret given by a file flag or, without it, an environment variable.
Result<std::optional<std::string>> Secret(const std::string& file, std::string_view flag,
                                          std::string_view variable, const EnvLookup& env) {
  if (!file.empty()) {
    Result<std::string> value = ReadValueFile(file, "--" + std::string(flag));
    if (!value.ok()) return std::move(value).error();
    return std::optional<std::string>(*value);
  }
  if (std::optional<std::string> value = env(variable); value && !value->empty()) {
    return value;
  }
  return std::optional<std::string>();
}

Result<std::vector<Event>> ParseEvents(const std::vector<std::string>& names, std::string_view what) {
  std::vector<Event> events;
  for (const std::string& name : names) {
    Event event;
    if (!ParseEvent(name, &event)) {
      return Invalid(std::string(what) + ": unknown event \"" + name +
                     "\" (run.started, run.finished, test.failed)");
    }
    events.push_back(event);
  }
  return events;
}

std::vector<std::string> SplitCommas(std::string_view text) {
  std::vector<std::string> parts;
  std::string part;
  for (char c : text) {
    if (c == ',') {
      if (!part.empty()) parts.push_back(part);
      part.clear();
    } else if (c != ' ') {
      part += c;
    }
  }
  if (!part.empty()) parts.push_back(part);
  return parts;
}

Result<std::vector<std::string>> StringList(const json::value& v, std::string_view what) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.emplace_back(v.as_string());
    return out;
  }
  if (!v.is_array()) return Invalid(std::string(what) + " must be a list of strings");
  for (const json::value& item : v.as_array()) {
    if (!item.is_string()) return Invalid(std::string(what) + " must be a list of strings");
    out.emplace_back(item.as_string());
  }
  return out;
}

Result<Route> ParseRoute(const json::value& v, std::string_view what) {
  if (!v.is_object()) return Invalid(std::string(what) + ": \"route\" must be an object");
  Route route;
  for (const auto& [key, value] : v.as_object()) {
    const std::string field = std::string(what) + ": route." + std::string(key);
    if (key == "suites" || key == "namespaces" || key == "environments") {
      Result<std::vector<std::string>> list = StringList(value, field);
      if (!list.ok()) return std::move(list).error();
      (key == "suites" ? route.suites : key == "namespaces" ? route.namespaces
                                                             : route.environments) = *list;
    } else if (key == "labels") {
      if (!value.is_object()) return Invalid(field + " must be an object of strings");
      for (const auto& [label, label_value] : value.as_object()) {
        if (!label_value.is_string()) return Invalid(field + " must be an object of strings");
        route.labels.emplace_back(std::string(label), std::string(label_value.as_string()));
      }
    } else {
      return Invalid(field + ": unknown key (suites, namespaces, labels, environments)");
    }
  }
  return route;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

Result<std::vector<PluginConfig>> ParseNotifyConfig(std::string_view text, std::string_view origin,
                                                    std::optional<Policy> default_policy,
                                                    const EnvLookup& env) {
  const std::string where(origin);
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec) return Invalid(where + ": not valid JSON: " + ec.message());
  if (!doc.is_object()) return Invalid(where + ": must be a JSON object with \"destinations\"");
  std::vector<PluginConfig> configs;
  for (const auto& [key, value] : doc.as_object()) {
    if (key != "destinations") {
      return Invalid(where + ": unknown key \"" + std::string(key) + "\" (destinations)");
    }
  }
  const json::value* list = doc.as_object().if_contains("destinations");
  if (list == nullptr || !list->is_array()) {
    return Invalid(where + ": \"destinations\" must be a list");
  }
  std::set<std::string> names;
  int index = 0;
  for (const json::value& entry : list->as_array()) {
    ++index;
    std::string what = where + ": destination " + std::to_string(index);
    if (!entry.is_object()) return Invalid(what + " must be an object");
    const json::object& object = entry.as_object();
    PluginConfig config;
    config.policy = default_policy;
    const json::value* plugin = object.if_contains("plugin");
    if (plugin == nullptr || !plugin->is_string() || plugin->as_string().empty()) {
      return Invalid(what + ": \"plugin\" is required (slack, pagerduty, github, webhook)");
    }
    config.kind = std::string(plugin->as_string());
    const json::value* name = object.if_contains("name");
    if (name != nullptr && !name->is_string()) return Invalid(what + ": \"name\" must be a string");
    config.name = name != nullptr && !name->as_string().empty() ? std::string(name->as_string())
                                                                : config.kind + "-" + std::to_string(index);
    what = where + ": destination \"" + config.name + "\"";
    if (!names.insert(config.name).second) return Invalid(what + ": the name is used twice");
    for (const auto& [key_view, value] : object) {
      const std::string key(key_view);
      if (key == "plugin" || key == "name") continue;
      if (key == "on") {
        Policy policy;
        if (!value.is_string() || !ParsePolicy(std::string(value.as_string()), &policy)) {
          return Invalid(what + ": \"on\" must be always, failure or change");
        }
        config.policy = policy;
      } else if (key == "events") {
        Result<std::vector<std::string>> events = StringList(value, what + ": \"events\"");
        if (!events.ok()) return std::move(events).error();
        Result<std::vector<Event>> parsed = ParseEvents(*events, what);
        if (!parsed.ok()) return std::move(parsed).error();
        config.events = *parsed;
      } else if (key == "route") {
        Result<Route> route = ParseRoute(value, what);
        if (!route.ok()) return std::move(route).error();
        config.route = *route;
      } else {
        if (!value.is_string()) {
          return Invalid(what + ": \"" + key + "\" must be a string");
        }
        const std::string text_value(value.as_string());
        std::string setting = key;
        std::string resolved = text_value;
        if (EndsWith(key, "_file")) {
          setting = key.substr(0, key.size() - 5);
          Result<std::string> read = ReadValueFile(text_value, what + ": \"" + key + "\"");
          if (!read.ok()) return std::move(read).error();
          resolved = *read;
        } else if (EndsWith(key, "_env")) {
          setting = key.substr(0, key.size() - 4);
          std::optional<std::string> from_env = env(text_value);
          if (!from_env || from_env->empty()) {
            return Invalid(what + ": \"" + key + "\": the variable " + text_value + " is not set");
          }
          resolved = *from_env;
        }
        if (!config.settings.emplace(setting, resolved).second) {
          return Invalid(what + ": \"" + setting + "\" is given twice");
        }
      }
    }
    configs.push_back(std::move(config));
  }
  return configs;
}

Result<std::vector<PluginConfig>> LoadDestinations(const NotifyFlags& flags, const EnvLookup& env) {
  std::optional<Policy> policy;
  if (!flags.notify_on.empty()) {
    Policy parsed;
    if (!ParsePolicy(flags.notify_on, &parsed)) {
      return Invalid("--notify-on must be always, failure or change, not \"" + flags.notify_on +
                     "\"");
    }
    policy = parsed;
  }
  std::vector<PluginConfig> configs;

  // Slack: an incoming webhook or a bot token with a channel.
  Result<std::optional<std::string>> slack_url =
      Secret(flags.slack_webhook_url_file, "slack-webhook-url-file", "HANDOFF_SLACK_WEBHOOK_URL", env);
  if (!slack_url.ok()) return std::move(slack_url).error();
  Result<std::optional<std::string>> slack_token =
      Secret(flags.slack_token_file, "slack-token-file", "HANDOFF_SLACK_TOKEN", env);
  if (!slack_token.ok()) return std::move(slack_token).error();
  if (*slack_url || *slack_token || !flags.slack_channel.empty()) {
    PluginConfig c{.name = "slack", .kind = "slack", .policy = policy};
    if (*slack_url) c.settings["webhook_url"] = **slack_url;
    if (*slack_token) c.settings["token"] = **slack_token;
    if (!flags.slack_channel.empty()) c.settings["channel"] = flags.slack_channel;
    if (!flags.slack_api_url.empty()) c.settings["api_url"] = flags.slack_api_url;
    configs.push_back(std::move(c));
  } else if (!flags.slack_api_url.empty()) {
    return Invalid("--slack-api-url needs --slack-token-file (or HANDOFF_SLACK_TOKEN)");
  }

  Result<std::optional<std::string>> routing_key =
      Secret(flags.pagerduty_routing_key_file, "pagerduty-routing-key-file",
             "HANDOFF_PAGERDUTY_ROUTING_KEY", env);
  if (!routing_key.ok()) return std::move(routing_key).error();
  if (*routing_key) {
    PluginConfig c{.name = "pagerduty", .kind = "pagerduty"};
    c.settings["routing_key"] = **routing_key;
    if (!flags.pagerduty_api_url.empty()) c.settings["api_url"] = flags.pagerduty_api_url;
    if (!flags.pagerduty_severity.empty()) c.settings["severity"] = flags.pagerduty_severity;
    configs.push_back(std::move(c));
  } else if (!flags.pagerduty_api_url.empty() || !flags.pagerduty_severity.empty()) {
    return Invalid("--pagerduty-api-url and --pagerduty-severity need "
                   "--pagerduty-routing-key-file (or HANDOFF_PAGERDUTY_ROUTING_KEY)");
  }

  Result<std::optional<std::string>> github_token =
      Secret(flags.github_token_file, "github-token-file", "HANDOFF_GITHUB_TOKEN", env);
  if (!github_token.ok()) return std::move(github_token).error();
  if (*github_token || !flags.github_repo.empty()) {
    PluginConfig c{.name = "github", .kind = "github"};
    if (*github_token) c.settings["token"] = **github_token;
    if (!flags.github_repo.empty()) c.settings["repo"] = flags.github_repo;
    if (!flags.github_api_url.empty()) c.settings["api_url"] = flags.github_api_url;
    configs.push_back(std::move(c));
  } else if (!flags.github_api_url.empty()) {
    return Invalid("--github-api-url needs --github-token-file and --github-repo");
  }

  Result<std::optional<std::string>> webhook_secret =
      Secret(flags.webhook_secret_file, "webhook-secret-file", "HANDOFF_WEBHOOK_SECRET", env);
  if (!webhook_secret.ok()) return std::move(webhook_secret).error();
  if (!flags.webhook_url.empty()) {
    PluginConfig c{.name = "webhook", .kind = "webhook", .policy = policy};
    c.settings["url"] = flags.webhook_url;
    if (*webhook_secret) c.settings["secret"] = **webhook_secret;
    Result<std::vector<Event>> events =
        ParseEvents(SplitCommas(flags.webhook_events), "--webhook-events");
    if (!events.ok()) return std::move(events).error();
    c.events = *events;
    configs.push_back(std::move(c));
  } else if (!flags.webhook_secret_file.empty() || !flags.webhook_events.empty()) {
    return Invalid("--webhook-secret-file and --webhook-events need --webhook-url");
  }

  if (!flags.notify_config.empty()) {
    Result<std::string> text = ReadValueFile(flags.notify_config, "--notify-config");
    if (!text.ok()) return std::move(text).error();
    Result<std::vector<PluginConfig>> more =
        ParseNotifyConfig(*text, flags.notify_config, policy, env);
    if (!more.ok()) return std::move(more).error();
    for (PluginConfig& c : *more) {
      for (const PluginConfig& earlier : configs) {
        if (earlier.name == c.name) {
          return Invalid(flags.notify_config + ": destination \"" + c.name +
                         "\" is also given by flags: name it differently");
        }
      }
      configs.push_back(std::move(c));
    }
  }
  return configs;
}

}  // namespace handoff::notify
