#include "notify/builtin.h"

namespace handoff::notify {

// Not built yet (issue 16): refused, so no configuration silently does nothing.
Result<std::unique_ptr<Plugin>> MakePagerDuty(const PluginConfig& config) {
  return Error{ErrorCode::kUnsupported, "the pagerduty plugin is not built yet (" + config.name + ")"};
}

}  // namespace handoff::notify
