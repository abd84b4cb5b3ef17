#pragma once

// An example hook for `serve`: when a run finishes, POST a summary (JSON, with a Slack-style
// "text") to a webhook, and attach the delivery's outcome to the run.

#include <handoff/serve.h>

#include <string>
#include <vector>

namespace shop {

// [docs:hook]
class WebhookHook : public handoff::Hook {
 public:
  // `target` is "host:port/path", e.g. "127.0.0.1:9000/hooks/handoff".
  explicit WebhookHook(std::string target);

  std::string Name() const override { return "webhook"; }
  void OnRunFinished(const handoff::RunInfo& run, const std::vector<handoff::TestInfo>& tests,
                     const handoff::AttachValue& attach) override;

 private:
  std::string address_;  // host:port
  std::string path_;
};
// [docs:end]

}  // namespace shop
