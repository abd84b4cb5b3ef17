// Webhook secrets (src/notify/signature.h), as an operator's secret file gives them: a secret
// that parses has 24 to 64 bytes, writes back as "whsec_" and its base64, and signs; one that
// does not is refused with a message that repeats nothing of it.

#include <string>

#include "fuzz/fuzz_target.h"
#include "notify/signature.h"

HANDOFF_FUZZ_TARGET(webhook_secret) {
  using namespace handoff;
  const std::string_view input = fuzz::AsText(data, size);
  const Result<notify::WebhookSecret> secret = notify::ParseWebhookSecret(input);
  if (!secret.ok()) {
    FUZZ_CHECK(secret.error().code == ErrorCode::kInvalid);
    // The message is one of two fixed texts: nothing of the secret is repeated.
    static const std::string no_prefix = notify::ParseWebhookSecret("").error().message;
    static const std::string bad_base64 = notify::ParseWebhookSecret("whsec_!").error().message;
    FUZZ_CHECK(secret.error().message == no_prefix || secret.error().message == bad_base64);
    return 0;
  }
  FUZZ_CHECK(secret->bytes.size() >= 24 && secret->bytes.size() <= 64);
  const std::string signature = notify::StandardWebhookSignature({*secret}, "msg_1", 1, input);
  FUZZ_CHECK(signature.size() == 3 + 44 && signature.starts_with("v1,"));
  FUZZ_CHECK(notify::GithubSignature256(*secret, input).size() == 7 + 64);
  return 0;
}
