#include "auth/auth.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <utility>

namespace handoff::auth {
namespace {

constexpr std::string_view kHashPrefix = "sha256:";
constexpr std::string_view kTokenPrefix = "hnd_";

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Splits a line into its whitespace-separated fields.
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    std::size_t end = i;
    while (end < line.size() && !IsSpace(line[end])) ++end;
    if (end > i) fields.push_back(line.substr(i, end - i));
    i = end;
  }
  return fields;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<TokenHash> ParseTokenHash(std::string_view text) {
  if (!text.starts_with(kHashPrefix)) return std::nullopt;
  text.remove_prefix(kHashPrefix.size());
  TokenHash hash{};
  if (text.size() != hash.size() * 2) return std::nullopt;
  for (std::size_t i = 0; i < hash.size(); ++i) {
    const int hi = HexValue(text[2 * i]);
    const int lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    hash[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return hash;
}

bool ValidName(std::string_view name) {
  for (const char c : name) {
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f) return false;
  }
  return !name.empty() && name.size() <= 200;
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kRead:
      return "read";
    case Role::kRun:
      return "run";
    case Role::kAdmin:
      return "admin";
  }
  return "read";
}

std::optional<Role> ParseRole(std::string_view text) {
  if (text == "read") return Role::kRead;
  if (text == "run") return Role::kRun;
  if (text == "admin") return Role::kAdmin;
  return std::nullopt;
}

std::string_view ViaName(Principal::Via via) {
  switch (via) {
    case Principal::Via::kToken:
      return "token";
    case Principal::Via::kCookie:
      return "cookie";
    case Principal::Via::kCertificate:
      return "certificate";
  }
  return "token";
}

TokenHash HashToken(std::string_view token) {
  TokenHash hash{};
  unsigned int size = 0;
  // Fetched once: EVP_sha256() makes OpenSSL 3 look the implementation up on every digest,
  // under a lock, which costs more than hashing a token.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_Digest(token.data(), token.size(), hash.data(), &size,
             sha256 != nullptr ? sha256 : EVP_sha256(), nullptr);
  return hash;
}

std::string FormatTokenHash(const TokenHash& hash) {
  std::string out(kHashPrefix);
  for (const std::uint8_t byte : hash) fmt::format_to(std::back_inserter(out), "{:02x}", byte);
  return out;
}

Result<std::string> NewToken() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return Error{ErrorCode::kUnavailable, "the system's random source failed"};
  }
  // Base64url without padding: 6 bits per character, 43 characters for 256 bits.
  std::string token(kTokenPrefix);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const unsigned char byte : bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      token += kAlphabet[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) token += kAlphabet[(acc << (6 - bits)) & 0x3f];
  return token;
}

Result<std::vector<AuthEntry>> ParseAuthFile(std::string_view text) {
  std::vector<AuthEntry> entries;
  int line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    const std::vector<std::string_view> fields = Fields(line);
    if (fields.empty()) continue;
    const auto fail = [line_number](const std::string& what) {
      return Error{ErrorCode::kInvalid, fmt::format("line {}: {}", line_number, what)};
    };
    if (fields.size() < 2 || fields.size() > 3) {
      return fail("expected NAME ROLE [sha256:HASH]");
    }
    AuthEntry entry;
    if (!ValidName(fields[0])) return fail(fmt::format("invalid name \"{}\"", fields[0]));
    entry.name = std::string(fields[0]);
    const std::optional<Role> role = ParseRole(fields[1]);
    if (!role) {
      return fail(fmt::format("unknown role \"{}\" (read, run or admin)", fields[1]));
    }
    entry.role = *role;
    if (fields.size() == 3) {
      if (fields[2].starts_with(kTokenPrefix)) {
        // Said without echoing the token: the file must never hold one in clear.
        return fail(
            "this is a token, not its hash: the file keeps only sha256:HASH (`token --name "
            "NAME --role ROLE --auth-file FILE` writes the line)");
      }
      entry.token = ParseTokenHash(fields[2]);
      if (!entry.token) return fail("expected sha256: and 64 hex digits");
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::string FormatAuthEntry(const AuthEntry& entry) {
  std::string line = fmt::format("{} {}", entry.name, RoleName(entry.role));
  if (entry.token) line += " " + FormatTokenHash(*entry.token);
  return line;
}

namespace {

struct TokenHashHasher {
  std::size_t operator()(const TokenHash& h) const {
    std::size_t value = 0;
    std::memcpy(&value, h.data(), sizeof value);
    return value;
  }
};

}  // namespace

// One auth file's entries, looked up by token hash and by name; never changed once built.
struct Authenticator::Tables {
  std::unordered_map<TokenHash, Principal, TokenHashHasher> by_hash;
  std::map<std::string, Role, std::less<>> roles;
};

// What copies of an Authenticator share: the current tables and the admin token.
struct Authenticator::Shared {
  mutable std::mutex mu;
  std::shared_ptr<const Tables> tables;  // guarded by mu
  std::optional<AuthEntry> admin;
};

Result<std::shared_ptr<const Authenticator::Tables>> Authenticator::Build(
    std::vector<AuthEntry> entries, const std::optional<AuthEntry>& admin) {
  if (admin) entries.push_back(*admin);
  auto tables = std::make_shared<Tables>();
  for (AuthEntry& entry : entries) {
    const auto [it, inserted] = tables->roles.emplace(entry.name, entry.role);
    if (!inserted && it->second != entry.role) {
      return Error{ErrorCode::kInvalid,
                   fmt::format("\"{}\" has two roles, {} and {}: a name has one role",
                               entry.name, RoleName(it->second), RoleName(entry.role))};
    }
    if (!entry.token) continue;
    Principal principal{entry.name, entry.role, Principal::Via::kToken};
    if (!tables->by_hash.emplace(*entry.token, std::move(principal)).second) {
      return Error{ErrorCode::kInvalid,
                   fmt::format("a token of \"{}\" is given twice", entry.name)};
    }
  }
  return std::shared_ptr<const Tables>(std::move(tables));
}

Result<Authenticator> Authenticator::Create(std::vector<AuthEntry> entries,
                                            std::optional<std::string> admin_token,
                                            std::string admin_token_name) {
  Authenticator auth;
  auth.shared_ = std::make_shared<Shared>();
  if (admin_token) {
    if (admin_token->empty()) {
      return Error{ErrorCode::kInvalid, "HANDOFF_AUTH_TOKEN is set but empty"};
    }
    // Nothing slows down guessing (a token is checked in microseconds), so a token must be
    // too long to guess; `handoff token` makes one of 47 characters.
    if (admin_token->size() < kMinTokenLength) {
      return Error{ErrorCode::kInvalid,
                   fmt::format("HANDOFF_AUTH_TOKEN has {} characters: a token needs at least {} "
                               "to resist guessing (the token command makes one)",
                               admin_token->size(), kMinTokenLength)};
    }
    AuthEntry entry;
    entry.name = std::move(admin_token_name);
    entry.role = Role::kAdmin;
    entry.token = HashToken(*admin_token);
    auth.shared_->admin = std::move(entry);
  }
  Result<std::shared_ptr<const Tables>> tables = Build(std::move(entries), auth.shared_->admin);
  if (!tables.ok()) return tables.error();
  auth.shared_->tables = std::move(tables).value();
  return auth;
}

Result<std::size_t> Authenticator::Replace(std::vector<AuthEntry> entries) const {
  Result<std::shared_ptr<const Tables>> tables = Build(std::move(entries), shared_->admin);
  if (!tables.ok()) return tables.error();
  const std::size_t count = (*tables)->by_hash.size();
  std::lock_guard lock(shared_->mu);
  shared_->tables = std::move(tables).value();
  return count;
}

std::shared_ptr<const Authenticator::Tables> Authenticator::Current() const {
  std::lock_guard lock(shared_->mu);
  return shared_->tables;
}

std::size_t Authenticator::tokens() const { return Current()->by_hash.size(); }

std::optional<Principal> Authenticator::FromToken(std::string_view token,
                                                  Principal::Via via) const {
  if (token.empty()) return std::nullopt;
  const std::shared_ptr<const Tables> tables = Current();
  const auto it = tables->by_hash.find(HashToken(token));
  if (it == tables->by_hash.end()) return std::nullopt;
  Principal principal = it->second;
  principal.via = via;
  return principal;
}

Principal Authenticator::FromCertificate(std::string_view name) const {
  const std::shared_ptr<const Tables> tables = Current();
  const auto it = tables->roles.find(name);
  return Principal{std::string(name), it == tables->roles.end() ? Role::kRun : it->second,
                   Principal::Via::kCertificate};
}

}  // namespace handoff::auth
