#include "notify/signature.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <array>

namespace handoff::notify {
namespace {

constexpr std::string_view kSecretPrefix = "whsec_";

std::array<unsigned char, 32> HmacSha256(std::string_view key, std::string_view message) {
  std::array<unsigned char, 32> mac{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac.data(),
       &size);
  return mac;
}

std::string Base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                                      static_cast<int>(size));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

}  // namespace

Result<WebhookSecret> ParseWebhookSecret(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  if (!text.starts_with(kSecretPrefix)) {
    return Error{ErrorCode::kInvalid,
                 "a webhook secret starts with \"whsec_\" followed by base64 (Standard "
                 "Webhooks)"};
  }
  const std::string_view encoded = text.substr(kSecretPrefix.size());
  const auto invalid = [] {
    return Error{ErrorCode::kInvalid,
                 "the webhook secret after \"whsec_\" is not valid base64 of 24 to 64 bytes"};
  };
  if (encoded.empty() || encoded.size() % 4 != 0) return invalid();
  for (char c : encoded) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/' || c == '=';
    if (!ok) return invalid();
  }
  std::string bytes(encoded.size() / 4 * 3, '\0');
  const int decoded =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                      reinterpret_cast<const unsigned char*>(encoded.data()),
                      static_cast<int>(encoded.size()));
  if (decoded < 0) return invalid();
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  std::size_t size = static_cast<std::size_t>(decoded);
  if (encoded.ends_with("==")) {
    size -= 2;
  } else if (encoded.ends_with("=")) {
    size -= 1;
  }
  bytes.resize(size);
  if (bytes.size() < 24 || bytes.size() > 64) return invalid();
  return WebhookSecret{std::move(bytes)};
}

std::string StandardWebhookSignature(const std::vector<WebhookSecret>& secrets,
                                     std::string_view id, std::int64_t timestamp_seconds,
                                     std::string_view body) {
  const std::string signed_content = fmt::format("{}.{}.{}", id, timestamp_seconds, body);
  std::string header;
  for (const WebhookSecret& secret : secrets) {
    const std::array<unsigned char, 32> mac = HmacSha256(secret.bytes, signed_content);
    if (!header.empty()) header += ' ';
    header += "v1,";
    header += Base64(mac.data(), mac.size());
  }
  return header;
}

std::string GithubSignature256(const WebhookSecret& secret, std::string_view body) {
  const std::array<unsigned char, 32> mac = HmacSha256(secret.bytes, body);
  std::string header = "sha256=";
  for (unsigned char b : mac) header += fmt::format("{:02x}", b);
  return header;
}

std::string DeliveryId(std::int64_t run_id, std::int64_t run_created_at_ns,
                       std::string_view destination, std::string_view event,
                       std::string_view test) {
  std::string input = std::to_string(run_id) + '\0' + std::to_string(run_created_at_ns);
  for (std::string_view part : {destination, event, test}) {
    input += '\0';
    input += part;
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "msg_";
  for (int i = 0; i < 16; ++i) {
    id += kHex[digest[i] >> 4];
    id += kHex[digest[i] & 0xf];
  }
  return id;
}

}  // namespace handoff::notify
