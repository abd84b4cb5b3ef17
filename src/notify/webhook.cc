// The "webhook" plugin (issue 16, signed webhooks): the notification's own JSON (ToJson) sent
// to any URL, signed as Standard Webhooks specifies and with GitHub's X-Hub-Signature-256, so
// that a receiver can tell our deliveries from forgeries and replays.

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "notify/builtin.h"
#include "notify/signature.h"

namespace handoff::notify {
namespace {

// The settings the plugin takes; any other is a mistake (a typo of one of these).
constexpr std::string_view kSettings[] = {"url", "secret"};

// Where a webhook goes, split so that what may be shown never holds a credential.
struct Target {
  std::string shown;          // scheme://host[:port]/path: no userinfo, no query
  std::string request_url;    // scheme://host[:port]/path?query: no userinfo
  std::string authorization;  // "Basic ..." from the URL's userinfo, or ""
};

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes; false on a malformed one.
bool PercentDecode(std::string_view text, std::string* out) {
  out->clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      *out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return false;
    const int high = HexValue(text[i + 1]);
    const int low = HexValue(text[i + 2]);
    if (high < 0 || low < 0) return false;
    *out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return true;
}

// Parses the `url` setting. Errors never repeat the URL: its userinfo or query may hold a
// credential.
Result<Target> ParseTarget(std::string_view url) {
  const auto invalid = [](std::string why) {
    return Error{ErrorCode::kInvalid, "url " + why};
  };
  if (url.empty()) return invalid("is required (the address the webhook is sent to)");
  for (char c : url) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return invalid("contains a space or a control character");
  }
  std::string scheme;
  const std::size_t colon = url.find("://");
  if (colon != std::string_view::npos) {
    scheme = std::string(url.substr(0, colon));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  if (scheme != "http" && scheme != "https") return invalid("is not an http:// or https:// URL");
  if (url.find('#') != std::string_view::npos) {
    return invalid("has a fragment (#...), which HTTP never sends: remove it");
  }
  std::string_view rest = url.substr(colon + 3);
  const std::size_t authority_end = std::min(rest.find('/'), rest.find('?'));
  std::string_view authority = rest.substr(0, authority_end);
  const std::string_view path_and_query =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  const std::size_t query_start = path_and_query.find('?');
  const std::string_view path = path_and_query.substr(0, query_start);

  Target target;
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string credentials;
    if (!PercentDecode(authority.substr(0, at), &credentials)) {
      return invalid("has a malformed %-escape in its user name or password");
    }
    if (credentials.find(':') == std::string::npos) credentials += ':';
    target.authorization = "Basic " + Base64(credentials);
    authority = authority.substr(at + 1);
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {  // [::1]:8080
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid("has an unterminated [ in its host");
    host = authority.substr(0, close + 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid("has characters after its host's ]");
      port = after.substr(1);
      if (port.empty()) return invalid("has an empty port");
    }
  } else if (const std::size_t c = authority.rfind(':'); c != std::string_view::npos) {
    host = authority.substr(0, c);
    port = authority.substr(c + 1);
    if (port.empty()) return invalid("has an empty port");
  }
  if (host.empty() || host == "[]") return invalid("has no host");
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return invalid("has a port that is not a number from 1 to 65535");
    }
  }
  std::string origin = scheme + "://" + std::string(host);
  if (!port.empty()) origin += ":" + std::string(port);
  target.shown = origin + std::string(path);
  target.request_url = origin + std::string(path_and_query);
  return target;
}

// Reads "whsec_A whsec_B": one secret, or several during a key rotation (spaces, tabs or
// newlines between them: a file with one a line works too).
Result<std::vector<WebhookSecret>> ParseSecrets(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    const std::size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  if (words.empty()) {
    return Error{ErrorCode::kInvalid,
                 "secret is empty (give one whsec_ secret, or several separated by spaces "
                 "during a key rotation; or leave it out to send unsigned webhooks)"};
  }
  std::vector<WebhookSecret> secrets;
  for (std::size_t n = 0; n < words.size(); ++n) {
    Result<WebhookSecret> secret = ParseWebhookSecret(words[n]);
    if (!secret.ok()) {
      std::string which = words.size() == 1 ? "secret: "
                                            : "secret " + std::to_string(n + 1) + " of " +
                                                  std::to_string(words.size()) + ": ";
      return Error{ErrorCode::kInvalid, which + secret.error().message};
    }
    secrets.push_back(std::move(secret).value());
  }
  return secrets;
}

class WebhookPlugin final : public Plugin {
 public:
  WebhookPlugin(Target target, std::vector<WebhookSecret> secrets, std::vector<Event> events,
                Policy policy)
      : target_(std::move(target)),
        secrets_(std::move(secrets)),
        events_(std::move(events)),
        policy_(policy) {}

  // Plugin
  std::string_view kind() const override { return "webhook"; }

  std::string destination() const override { return target_.shown; }

  bool Wants(Event event, const RunFacts& run, Change change) const override {
    if (std::find(events_.begin(), events_.end(), event) == events_.end()) return false;
    // The policy decides about finished runs; a receiver that asked for run.started or
    // test.failed wants each of them.
    if (event != Event::kRunFinished) return true;
    return PolicyWants(policy_, run, change);
  }

  Result<Request> Render(const Notification& notification,
                         const RenderContext& /*context*/) const override {
    Request request;
    request.method = "POST";
    request.url = target_.request_url;
    request.body = ToJson(notification);
    // When this attempt is sent, not when the notification was decided: receivers refuse
    // old timestamps (Standard Webhooks suggests 5 minutes) to stop replays, and a retry
    // after a long outage is a new, freshly signed attempt with the same webhook-id.
    const std::int64_t timestamp = std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count();
    request.headers = {
        {"Content-Type", "application/json"},
        {"webhook-id", notification.id},
        {"webhook-timestamp", std::to_string(timestamp)},
    };
    if (!secrets_.empty()) {
      request.headers.emplace_back(
          "webhook-signature",
          StandardWebhookSignature(secrets_, notification.id, timestamp, request.body));
      // GitHub's header has room for one signature: the first secret's, the current one.
      request.headers.emplace_back("X-Hub-Signature-256",
                                   GithubSignature256(secrets_.front(), request.body));
    }
    if (!target_.authorization.empty()) {
      request.headers.emplace_back("Authorization", target_.authorization);
    }
    return request;
  }

  Outcome Classify(const Notification& /*notification*/, const Request& /*request*/,
                   const Response& response) const override {
    return ClassifyHttp(response, std::chrono::system_clock::now());
  }

 private:
  Target target_;
  std::vector<WebhookSecret> secrets_;
  std::vector<Event> events_;
  Policy policy_;
};

// The setting `key`, or "" when it is not set (PluginConfig::Get says the same, but lives in
// the registry's part, which this file does not need to link with).
std::string Setting(const PluginConfig& config, std::string_view key) {
  const auto it = config.settings.find(std::string(key));
  return it == config.settings.end() ? std::string() : it->second;
}

}  // namespace

Result<std::unique_ptr<Plugin>> MakeWebhook(const PluginConfig& config) {
  for (const auto& [key, value] : config.settings) {
    if (std::find(std::begin(kSettings), std::end(kSettings), key) == std::end(kSettings)) {
      return Error{ErrorCode::kInvalid,
                   "unknown setting \"" + key + "\" (the webhook plugin takes url and secret)"};
    }
  }
  Result<Target> target = ParseTarget(Setting(config, "url"));
  if (!target.ok()) return std::move(target).error();
  std::vector<WebhookSecret> secrets;
  if (config.settings.contains("secret")) {
    Result<std::vector<WebhookSecret>> parsed = ParseSecrets(Setting(config, "secret"));
    if (!parsed.ok()) return std::move(parsed).error();
    secrets = std::move(parsed).value();
  }
  std::vector<Event> events = config.events;
  if (events.empty()) events = {Event::kRunFinished};
  return std::unique_ptr<Plugin>(
      std::make_unique<WebhookPlugin>(std::move(target).value(), std::move(secrets),
                                      std::move(events), config.policy.value_or(Policy::kFailure)));
}

}  // namespace handoff::notify
