// --notify-config documents (src/notify/config.h), as an operator writes them: a document
// either gives destinations, each with a plugin kind and a unique name, or is refused as
// kInvalid; the registry then makes each destination's plugin or refuses it, never crashing.

#include <set>
#include <string>

#include "fuzz/fuzz_target.h"
#include "notify/config.h"
#include "notify/registry.h"

HANDOFF_FUZZ_TARGET(notify_config) {
  using namespace handoff;
  const std::string_view input = fuzz::AsText(data, size);
  const notify::EnvLookup env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "FUZZ_SECRET") return std::string("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    return std::nullopt;
  };
  Result<std::vector<notify::PluginConfig>> configs =
      notify::ParseNotifyConfig(input, "fuzz.json", std::nullopt, env);
  if (!configs.ok()) {
    FUZZ_CHECK(configs.error().code == ErrorCode::kInvalid);
    FUZZ_CHECK(configs.error().message.starts_with("fuzz.json: "));
    return 0;
  }
  static const notify::Registry registry = notify::BuiltinRegistry();
  std::set<std::string> names;
  for (const notify::PluginConfig& config : *configs) {
    FUZZ_CHECK(!config.kind.empty());
    FUZZ_CHECK(names.insert(config.name).second);
    Result<std::unique_ptr<notify::Plugin>> plugin = registry.Make(config);
    if (!plugin.ok()) {
      FUZZ_CHECK(plugin.error().code == ErrorCode::kInvalid);
      FUZZ_CHECK(plugin.error().message.starts_with("notification destination \"" + config.name));
      continue;
    }
    FUZZ_CHECK(*plugin != nullptr);
    FUZZ_CHECK((*plugin)->kind() == config.kind);
  }
  return 0;
}
