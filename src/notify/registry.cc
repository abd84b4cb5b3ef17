#include "notify/registry.h"

#include <utility>

#include "notify/builtin.h"

namespace handoff::notify {

std::string PluginConfig::Get(std::string_view key) const {
  auto it = settings.find(std::string(key));
  return it == settings.end() ? std::string() : it->second;
}

bool Registry::Register(std::string kind, Factory factory) {
  return factories_.emplace(std::move(kind), std::move(factory)).second;
}

std::vector<std::string> Registry::Kinds() const {
  std::vector<std::string> kinds;
  for (const auto& [kind, factory] : factories_) kinds.push_back(kind);
  return kinds;
}

Result<std::unique_ptr<Plugin>> Registry::Make(const PluginConfig& config) const {
  auto it = factories_.find(config.kind);
  if (it == factories_.end()) {
    std::string known;
    for (const auto& [kind, factory] : factories_) known += (known.empty() ? "" : ", ") + kind;
    return Error{ErrorCode::kInvalid, "notification destination \"" + config.name +
                                          "\": no plugin named \"" + config.kind +
                                          "\" (known: " + known + ")"};
  }
  Result<std::unique_ptr<Plugin>> plugin = it->second(config);
  if (!plugin.ok()) {
    return Error{ErrorCode::kInvalid, "notification destination \"" + config.name + "\" (" +
                                          config.kind + "): " + plugin.error().message};
  }
  return plugin;
}

Registry BuiltinRegistry() {
  Registry registry;
  registry.Register("slack", MakeSlack);
  registry.Register("pagerduty", MakePagerDuty);
  registry.Register("github", MakeGithub);
  registry.Register("webhook", MakeWebhook);
  return registry;
}

}  // namespace handoff::notify
