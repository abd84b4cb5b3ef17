// Webhook signatures (src/notify/signature.h) against published vectors: Standard Webhooks'
// own test vector (also computed with Python's hmac) and the example of GitHub's webhook
// documentation.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "notify/signature.h"

namespace handoff::notify {
namespace {

TEST(WebhookSignatureTest, MatchesTheStandardWebhooksVector) {
  const Result<WebhookSecret> secret =
      ParseWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
  ASSERT_TRUE(secret.ok()) << secret.error().message;
  EXPECT_EQ(StandardWebhookSignature({*secret}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                     R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(WebhookSignatureTest, ARotationSignsWithEverySecretInOrder) {
  const Result<WebhookSecret> old_secret =
      ParseWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  const Result<WebhookSecret> new_secret =
      ParseWebhookSecret("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  ASSERT_TRUE(old_secret.ok());
  ASSERT_TRUE(new_secret.ok()) << new_secret.error().message;
  EXPECT_EQ(new_secret->bytes, std::string(32, '\0'));
  const std::string both = StandardWebhookSignature(
      {*old_secret, *new_secret}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
      R"({"test": 2432232314})");
  EXPECT_TRUE(both.starts_with("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,")) << both;
  EXPECT_EQ(both.size(), 2 * (3 + 44) + 1);  // two "v1," and 44 base64 characters, a space
  // The body, the id and the time are all signed.
  EXPECT_NE(StandardWebhookSignature({*old_secret}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331,
                                     R"({"test": 2432232314})"),
            StandardWebhookSignature({*old_secret}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                     R"({"test": 2432232314})"));
}

TEST(WebhookSignatureTest, MatchesGithubsDocumentedExample) {
  EXPECT_EQ(GithubSignature256(WebhookSecret{"It's a Secret to Everybody"}, "Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

TEST(WebhookSignatureTest, ABadSecretIsRefusedWithoutBeingRepeated) {
  for (const char* bad : {"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_not base64!",
                          "whsec_c2hvcnQ=", /* 5 bytes: too short */
                          "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"}) {
    const Result<WebhookSecret> parsed = ParseWebhookSecret(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalid);
    if (std::string_view(bad).size() > 6) {
      EXPECT_EQ(parsed.error().message.find(std::string_view(bad).substr(6)), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace handoff::notify
