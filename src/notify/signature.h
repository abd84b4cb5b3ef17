#pragma once

// Signatures of outgoing webhooks (issue 16, signed webhooks), so that a receiver can tell a
// delivery of ours from a forgery and a replay:
//  - Standard Webhooks (standardwebhooks.com): `webhook-signature: v1,BASE64` where BASE64 is
//    the HMAC-SHA256 of "ID.TIMESTAMP.BODY" keyed with the secret's bytes; a `whsec_` secret is
//    those bytes in base64. During a key rotation a delivery carries one signature per secret,
//    space-separated, and a receiver accepts any.
//  - GitHub's `X-Hub-Signature-256: sha256=HEX`, the HMAC-SHA256 of the body alone, keyed with
//    the same secret's bytes, for receivers written for GitHub's webhooks.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace handoff::notify {

// The key of a webhook endpoint: the bytes a `whsec_` secret encodes.
struct WebhookSecret {
  std::string bytes;
};

// Parses a secret as an operator writes it: "whsec_" and the base64 of 24 to 64 bytes
// (Standard Webhooks' bounds). Surrounding whitespace (a file's final newline) is ignored.
// The error never repeats the secret.
Result<WebhookSecret> ParseWebhookSecret(std::string_view text);

// The value of `webhook-signature` for a delivery: "v1,BASE64" for each secret, in order,
// separated by spaces.
std::string StandardWebhookSignature(const std::vector<WebhookSecret>& secrets,
                                     std::string_view id, std::int64_t timestamp_seconds,
                                     std::string_view body);

// The value of `X-Hub-Signature-256` for `body`: "sha256=" and the lower-case hex HMAC.
std::string GithubSignature256(const WebhookSecret& secret, std::string_view body);

}  // namespace handoff::notify

namespace handoff::notify {

// Returns the id of the delivery of one event of a run to one destination ("msg_" and 32
// hex digits of a SHA-256 over them): the same decision always gets the same id, so a
// decision made again after a restart is the same delivery, and a receiver de-duplicates
// by it. The run's creation time (nanoseconds) keeps run 1 of one database apart from run 1
// of another (two servers, a recreated database) at a receiver they share. `test` names the
// test of a test.failed event ("" for run events).
std::string DeliveryId(std::int64_t run_id, std::int64_t run_created_at_ns,
                       std::string_view destination, std::string_view event,
                       std::string_view test);

}  // namespace handoff::notify
