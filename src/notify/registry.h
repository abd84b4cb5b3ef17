#pragma once

// Plugins registered by name (issue 16), as Catch2 registers reporters: each built-in plugin
// is a named factory that turns a destination's configuration into a Plugin, or says what is
// wrong with it. Flags, `HANDOFF_*` variables and --notify-config entries all become a
// PluginConfig and go through the same factories, so every configuration error names its
// destination and plugin and stops the server at start-up (exit 2).

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "notify/plugin.h"

namespace handoff::notify {

// One destination as the operator configured it.
struct PluginConfig {
  std::string name;  // unique among destinations ("slack" for the one given by flags)
  std::string kind;  // the plugin: "slack", "pagerduty", "github", "webhook"
  std::optional<Policy> policy;  // nullopt: the plugin's default (--notify-on)
  std::vector<Event> events;     // empty: the plugin's default events
  Route route;
  // The plugin's own settings, secrets already read from their files or variables: keys as
  // in --notify-config without a `_file`/`_env` suffix ("webhook_url", "token", "channel",
  // "api_url", "routing_key", "severity", "repo", "secret", ...).
  std::map<std::string, std::string> settings;

  // Returns the setting `key`, or "" when it is not set.
  std::string Get(std::string_view key) const;
};

// Makes a plugin from its configuration; an error says what is wrong (it is prefixed with
// the destination's name by the registry) and never repeats a secret.
using Factory = std::function<Result<std::unique_ptr<Plugin>>(const PluginConfig&)>;

class Registry {
 public:
  // Adds a factory; false if `kind` is taken.
  bool Register(std::string kind, Factory factory);
  // The registered kinds, sorted.
  std::vector<std::string> Kinds() const;
  // Makes the plugin of `config`: kInvalid naming the destination and plugin when the kind
  // is unknown or the factory refuses the configuration.
  Result<std::unique_ptr<Plugin>> Make(const PluginConfig& config) const;

 private:
  std::map<std::string, Factory, std::less<>> factories_;
};

// Returns a registry with every built-in plugin.
Registry BuiltinRegistry();

}  // namespace handoff::notify
