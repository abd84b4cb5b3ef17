#include "webhook_hook.h"

#include <fmt/format.h>

#include "json.h"
#include "shop_service.h"

namespace shop {

WebhookHook::WebhookHook(std::string target) {
  const std::size_t slash = target.find('/');
  address_ = target.substr(0, slash);
  path_ = slash == std::string::npos ? "/" : target.substr(slash);
}

void WebhookHook::OnRunFinished(const handoff::RunInfo& run,
                                const std::vector<handoff::TestInfo>& tests,
                                const handoff::AttachValue& attach) {
  std::string failed;
  for (const handoff::TestInfo& test : tests) {
    if (test.status != "failed" || test.soft_failure) continue;
    if (!failed.empty()) failed += ',';
    failed += JsonQuote(test.name);
  }
  const std::string text =
      fmt::format("{} run {} {}: {} passed, {} failed, {} skipped", run.suite, run.id, run.status,
                  run.tests_passed, run.tests_failed, run.tests_skipped);
  const std::string body = fmt::format(
      R"({{"text":{},"run_id":{},"suite":{},"status":{},"reference":{},"flaky":{},"failed_tests":[{}]}})",
      JsonQuote(text), run.id, JsonQuote(run.suite), JsonQuote(run.status),
      JsonQuote(run.reference), run.flaky ? "true" : "false", failed);
  // The hook runs on its own thread: a slow receiver delays only this hook, not the run.
  const HttpResponse response = Client(address_, std::chrono::seconds(5)).Post(path_, body);
  attach("webhook", response.ok() ? fmt::format("delivered (HTTP {})", response.status)
                                  : "failed: " + response.error);
}

}  // namespace shop
