// Prints webhook requests as the webhook plugin renders them (src/notify/webhook.cc), as JSON,
// for independent verifiers to check (tests/webhook/run.sh): Standard Webhooks' reference
// implementation (verify.mjs) and Python's hmac (verify_github.py). Each case:
//   {"name", "secrets": ["whsec_..."], "url", "headers": {name: value}, "body_base64"}
// The body is base64 so that the verifiers get its exact bytes.

#include <openssl/evp.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "json/json_writer.h"
#include "notify/builtin.h"
#include "notify/notification.h"
#include "notify/plugin.h"

namespace {

using handoff::AppendJsonString;
namespace notify = handoff::notify;

struct Case {
  std::string name;
  std::vector<std::string> secrets;  // as an operator writes them
  notify::Notification notification;
};

std::string Base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

notify::Notification FailedRun() {
  notify::Notification n;
  n.id = "ntf_9_run.finished";
  n.event = notify::Event::kRunFinished;
  // Decided in 2001: receivers refuse a timestamp that old, so this passes only if the
  // signature's time is the attempt's.
  n.created_at_ns = 1'000'000'000'123'456'789;
  n.run.id = 9;
  n.run.suite = "shop <e2e> & \"more\"";
  n.run.namespace_name = "team-a";
  n.run.status = "failed";
  n.run.environment = "staging";
  n.run.labels = {{"zone", "eu"}, {"owner", "Zoë 中文"}};
  n.run.created_at_ns = n.created_at_ns - 9'000'000'000;
  n.run.started_at_ns = n.created_at_ns - 8'000'000'000;
  n.run.finished_at_ns = n.created_at_ns;
  n.run.totals.total = 2;
  n.run.totals.passed = 1;
  n.run.totals.failed = 1;
  n.run.url = "http://127.0.0.1:1337/runs/9";
  n.change = notify::Change::kBroke;
  n.previous = notify::PreviousRun{8, "passed", "http://127.0.0.1:1337/runs/8"};
  n.tests = {{"TestCheckout", "failed", false, false, 1, 41,
              "want \"3\", got 4\n\tline two \u2028 \x01", "shop_test.cc", 88},
             {"TestLogin", "passed", false, false, 1, 7, "", "", 0}};
  return n;
}

}  // namespace

int main() {
  const std::string kA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";  // 24 bytes
  const std::string kB = "whsec_7qAA97vSgEpKUU4xlXMtUQ1ZGY7KsVCj537FohjTeTY=";  // 32 bytes
  const std::string kC =
      "whsec_ykHCi0vdboUleMFKa2v47kDCcDf7jaNubYGn/HxlFOCXMwsgd+V0t+pGN9NQMGki3VWTZnBt9CeaYcByj"
      "e1KYw==";  // 64 bytes
  const std::string kD = "whsec_lgufO52dDX7uywxcwLddR3kayPaAnYm7bm3Baz8fEvXfTBkB9R0czA==";

  std::vector<Case> cases;
  cases.push_back({"one secret", {kA}, FailedRun()});
  cases.push_back({"rotation of three secrets", {kB, kC, kD}, FailedRun()});
  notify::Notification started = FailedRun();
  started.id = "ntf_10_run.started";
  started.event = notify::Event::kRunStarted;
  started.change = notify::Change::kNone;
  started.previous.reset();
  started.tests.clear();
  cases.push_back({"run.started, a 64-byte secret", {kC}, started});

  std::string out = "{\"cases\":[";
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    notify::PluginConfig config;
    config.name = "sample";
    config.kind = "webhook";
    config.events = {notify::Event::kRunStarted, notify::Event::kRunFinished};
    config.settings["url"] = "http://127.0.0.1:9/hook?token=x";
    std::string secrets;
    for (const std::string& s : c.secrets) secrets += (secrets.empty() ? "" : " ") + s;
    config.settings["secret"] = secrets;
    handoff::Result<std::unique_ptr<notify::Plugin>> plugin = notify::MakeWebhook(config);
    if (!plugin.ok()) {
      std::fprintf(stderr, "webhook_sample: %s\n", plugin.error().message.c_str());
      return 1;
    }
    handoff::Result<notify::Request> request = (*plugin)->Render(c.notification, {});
    if (!request.ok()) {
      std::fprintf(stderr, "webhook_sample: %s\n", request.error().message.c_str());
      return 1;
    }
    if (i > 0) out += ',';
    out += "{\"name\":";
    AppendJsonString(out, c.name);
    out += ",\"secrets\":[";
    for (std::size_t s = 0; s < c.secrets.size(); ++s) {
      if (s > 0) out += ',';
      AppendJsonString(out, c.secrets[s]);
    }
    out += "],\"url\":";
    AppendJsonString(out, request->url);
    out += ",\"headers\":{";
    for (std::size_t h = 0; h < request->headers.size(); ++h) {
      if (h > 0) out += ',';
      AppendJsonString(out, request->headers[h].first);
      out += ':';
      AppendJsonString(out, request->headers[h].second);
    }
    out += "},\"body_base64\":";
    AppendJsonString(out, Base64(request->body));
    out += '}';
  }
  out += "]}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
