#pragma once

// serve's notification flags (issue 16, docs/integrations.md): one destination per plugin,
// --notify-config for several, --external-url for the links, and hidden delivery timings
// that tests shorten.

#include <string>
#include <vector>

#include "base/result.h"
#include "notify/config.h"

namespace CLI {
class App;
}

namespace handoff {

struct ServeOptions;

struct NotifyCliFlags {
  notify::NotifyFlags notify;
  std::string external_url;
  // Hidden: the first retry's wait (doubling up to 10 min), when a failing delivery is given
  // up, and each request's bound.
  std::string retry_backoff = "2s";
  std::string give_up_after = "24h";
  std::string request_timeout = "10s";

  // Declares the flags on `cmd`; every flag also reads HANDOFF_<FLAG>.
  void Add(CLI::App* cmd);

  // Makes the destinations and sets them with the delivery options on `options`; kInvalid
  // (exit 2) names the flag, file or destination that is wrong, never a secret.
  // `hook_names` are the C++ hooks' names: a destination may not take one.
  Result<void> Apply(ServeOptions& options, const std::vector<std::string>& hook_names) const;
};

}  // namespace handoff
