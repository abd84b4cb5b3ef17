#pragma once

// Who may do what on `serve`: roles, API tokens and the auth file that names them.
//
// A token is a random string handed to one client (`handoff token` makes one); the server
// keeps only its SHA-256, as GitHub keeps its personal access tokens: tokens carry 256 bits
// of randomness, so a fast hash is enough and a stolen auth file gives nobody a token.
//
// The auth file has one entry per line (blank lines and `#` comments are ignored):
//   NAME ROLE sha256:HEX   a token of that name and role
//   NAME ROLE              no token: the role of a client certificate whose subject CN is
//                          NAME (mTLS)
// A name may have several tokens (to rotate one without downtime); it has one role.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"

namespace handoff::auth {

// What a caller may do; each role may do everything the ones before it may.
enum class Role {
  kRead = 1,   // API GETs, the UI, the live stream
  kRun = 2,    // also trigger, cancel and retry runs
  kAdmin = 3,  // also schedules, backups and settings
};

// Returns "read", "run" or "admin".
std::string_view RoleName(Role role);

// Parses "read", "run" or "admin".
std::optional<Role> ParseRole(std::string_view text);

// A caller the server has identified, and how.
struct Principal {
  enum class Via { kToken, kCookie, kCertificate };
  std::string name;
  Role role = Role::kRead;
  Via via = Via::kToken;
};

// Returns "token", "cookie" or "certificate".
std::string_view ViaName(Principal::Via via);

// The SHA-256 of a token.
using TokenHash = std::array<std::uint8_t, 32>;

// Returns the SHA-256 of `token`.
TokenHash HashToken(std::string_view token);

// Returns "sha256:" and the lowercase hex of `hash`: how the auth file writes it.
std::string FormatTokenHash(const TokenHash& hash);

// The fewest characters HANDOFF_AUTH_TOKEN may have.
inline constexpr std::size_t kMinTokenLength = 16;

// Returns a new random token ("hnd_" and 43 characters of base64url: 256 bits), or an
// error if the system's random source fails.
Result<std::string> NewToken();

// One entry of the auth file.
struct AuthEntry {
  std::string name;
  Role role = Role::kRead;
  std::optional<TokenHash> token;  // none: a name for client certificates only
};

// Parses the text of an auth file. Errors name the line: "line 3: unknown role \"root\"".
Result<std::vector<AuthEntry>> ParseAuthFile(std::string_view text);

// Returns the line of the auth file for `entry`.
std::string FormatAuthEntry(const AuthEntry& entry);

// Identifies callers by token or by the name of a verified client certificate. Safe to
// share between threads: Replace swaps in a new auth file's entries while requests use the
// old ones.
class Authenticator {
 public:
  // An authenticator of `entries` (an auth file) and, when set, one more admin token
  // (HANDOFF_AUTH_TOKEN) named `admin_token_name`. kInvalid if a name has two roles.
  static Result<Authenticator> Create(std::vector<AuthEntry> entries,
                                      std::optional<std::string> admin_token,
                                      std::string admin_token_name = "admin");

  // Replaces the auth file's entries (the admin token stays), so that tokens are added and
  // revoked without a restart; on an error (as Create's) the current entries stay.
  Result<std::size_t> Replace(std::vector<AuthEntry> entries) const;

  // Returns who holds `token`, or nullopt if no entry has it.
  std::optional<Principal> FromToken(std::string_view token, Principal::Via via) const;

  // Returns the caller a verified client certificate with subject CN `name` is: the role the
  // file gives that name, `run` when it does not name it.
  Principal FromCertificate(std::string_view name) const;

  // How many tokens it knows (for the start-up log).
  std::size_t tokens() const;

 private:
  struct Tables;
  struct Shared;
  static Result<std::shared_ptr<const Tables>> Build(std::vector<AuthEntry> entries,
                                                    const std::optional<AuthEntry>& admin);
  std::shared_ptr<const Tables> Current() const;

  std::shared_ptr<Shared> shared_;
};

}  // namespace handoff::auth
