#pragma once

// The built-in plugins' factories (issue 16), registered by BuiltinRegistry under their
// kinds. Each validates its configuration: an error names the missing or bad setting.

#include <memory>

#include "base/result.h"
#include "notify/plugin.h"
#include "notify/registry.h"

namespace handoff::notify {

// "slack": an incoming webhook (webhook_url) or chat.postMessage with a bot token (token,
// channel, api_url).
Result<std::unique_ptr<Plugin>> MakeSlack(const PluginConfig& config);
// "pagerduty": Events API v2 (routing_key, api_url, severity).
Result<std::unique_ptr<Plugin>> MakePagerDuty(const PluginConfig& config);
// "github": commit statuses or check runs (token, repo, api_url).
Result<std::unique_ptr<Plugin>> MakeGithub(const PluginConfig& config);
// "webhook": a signed JSON payload to any URL (url, secret).
Result<std::unique_ptr<Plugin>> MakeWebhook(const PluginConfig& config);

}  // namespace handoff::notify
