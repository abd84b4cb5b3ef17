#include "auth/auth.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace handoff::auth {
namespace {

TEST(AuthTest, NewTokensAreLongRandomAndHashToTheirSha256) {
  std::set<std::string> tokens;
  for (int i = 0; i < 100; ++i) {
    const Result<std::string> token = NewToken();
    ASSERT_TRUE(token.ok());
    EXPECT_EQ(token->size(), 4u + 43u) << *token;  // "hnd_" + 256 bits in base64url
    EXPECT_TRUE(token->starts_with("hnd_"));
    EXPECT_EQ(token->find_first_not_of(
                  "hnd_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-", 4),
              std::string::npos);
    tokens.insert(*token);
  }
  EXPECT_EQ(tokens.size(), 100u);
  // The SHA-256 of "abc" (FIPS 180-2's example).
  EXPECT_EQ(FormatTokenHash(HashToken("abc")),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AuthTest, ParsesEntriesCommentsAndNamesForCertificates) {
  const std::string hash = FormatTokenHash(HashToken("t1"));
  const Result<std::vector<AuthEntry>> entries = ParseAuthFile(
      "# who may use serve\n"
      "\n"
      "ci run " + hash + "   # the pipeline\n"
      "  grafana\tread  " + FormatTokenHash(HashToken("t2")) + "\r\n"
      "deployer admin\n");
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].name, "ci");
  EXPECT_EQ((*entries)[0].role, Role::kRun);
  EXPECT_EQ((*entries)[0].token, HashToken("t1"));
  EXPECT_EQ((*entries)[1].name, "grafana");
  EXPECT_EQ((*entries)[1].role, Role::kRead);
  EXPECT_EQ((*entries)[2].name, "deployer");
  EXPECT_FALSE((*entries)[2].token.has_value());
  EXPECT_EQ(FormatAuthEntry((*entries)[0]), "ci run " + hash);
}

TEST(AuthTest, RefusesBadLinesNamingTheLineAndNeverEchoingAToken) {
  struct Case {
    std::string text;
    std::string message;
  };
  for (const Case& c : {
           Case{"ci\n", "line 1: expected NAME ROLE [sha256:HASH]"},
           Case{"# x\nci root\n", "line 2: unknown role \"root\""},
           Case{"ci run sha256:abc\n", "line 1: expected sha256: and 64 hex digits"},
           Case{"ci run md5:" + std::string(64, 'a') + "\n", "line 1: expected sha256:"},
           Case{"ci run sha256:" + std::string(64, 'g') + "\n", "line 1: expected sha256:"},
           Case{"ci run a b\n", "line 1: expected NAME ROLE"},
       }) {
    const Result<std::vector<AuthEntry>> entries = ParseAuthFile(c.text);
    ASSERT_FALSE(entries.ok()) << c.text;
    EXPECT_NE(entries.error().message.find(c.message), std::string::npos)
        << entries.error().message;
  }
  const Result<std::vector<AuthEntry>> plain = ParseAuthFile("ci run hnd_SECRETSECRET\n");
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.error().message.find("not its hash"), std::string::npos);
  EXPECT_EQ(plain.error().message.find("SECRET"), std::string::npos);
}

TEST(AuthTest, IdentifiesTokensAndCertificateNames) {
  const Result<std::vector<AuthEntry>> entries = ParseAuthFile(
      "ci run " + FormatTokenHash(HashToken("ci-1")) + "\n" +
      "ci run " + FormatTokenHash(HashToken("ci-2")) + "\n" +  // rotation: two tokens
      "viewer read " + FormatTokenHash(HashToken("v")) + "\n" +
      "deployer admin\n");
  ASSERT_TRUE(entries.ok());
  const Result<Authenticator> auth = Authenticator::Create(*entries, std::string("root-token-0123456789"));
  ASSERT_TRUE(auth.ok()) << auth.error().message;
  EXPECT_EQ(auth->tokens(), 4u);

  for (const char* token : {"ci-1", "ci-2"}) {
    const std::optional<Principal> who = auth->FromToken(token, Principal::Via::kToken);
    ASSERT_TRUE(who.has_value()) << token;
    EXPECT_EQ(who->name, "ci");
    EXPECT_EQ(who->role, Role::kRun);
  }
  const std::optional<Principal> admin = auth->FromToken("root-token-0123456789", Principal::Via::kCookie);
  ASSERT_TRUE(admin.has_value());
  EXPECT_EQ(admin->name, "admin");
  EXPECT_EQ(admin->role, Role::kAdmin);
  EXPECT_EQ(admin->via, Principal::Via::kCookie);
  EXPECT_FALSE(auth->FromToken("ci-3", Principal::Via::kToken).has_value());
  EXPECT_FALSE(auth->FromToken("", Principal::Via::kToken).has_value());
  // A token's hash is not a token.
  EXPECT_FALSE(auth->FromToken(FormatTokenHash(HashToken("v")), Principal::Via::kToken));

  EXPECT_EQ(auth->FromCertificate("deployer").role, Role::kAdmin);
  EXPECT_EQ(auth->FromCertificate("viewer").role, Role::kRead);
  const Principal stranger = auth->FromCertificate("someone-else");
  EXPECT_EQ(stranger.role, Role::kRun);  // a certificate the CA signed, unnamed in the file
  EXPECT_EQ(stranger.via, Principal::Via::kCertificate);
}

TEST(AuthTest, ANameHasOneRoleAndATokenOneOwner) {
  const std::string hash = FormatTokenHash(HashToken("x"));
  const Result<std::vector<AuthEntry>> two_roles =
      ParseAuthFile("ci run " + hash + "\nci admin\n");
  ASSERT_TRUE(two_roles.ok());
  const Result<Authenticator> a = Authenticator::Create(*two_roles, std::nullopt);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("\"ci\" has two roles"), std::string::npos);

  const Result<std::vector<AuthEntry>> shared =
      ParseAuthFile("ci run " + hash + "\nbot run " + hash + "\n");
  ASSERT_TRUE(shared.ok());
  EXPECT_FALSE(Authenticator::Create(*shared, std::nullopt).ok());
  EXPECT_FALSE(Authenticator::Create({}, std::string()).ok());  // HANDOFF_AUTH_TOKEN=""
  // A token short enough to guess is refused.
  EXPECT_FALSE(Authenticator::Create({}, std::string("admin123")).ok());
  EXPECT_TRUE(Authenticator::Create({}, std::string(kMinTokenLength, 'x')).ok());
}

TEST(AuthenticatorTest, ReplaceSwapsTheFileEntriesAndKeepsTheAdminToken) {
  const std::string old_hash = FormatTokenHash(HashToken("old-token"));
  const std::string new_hash = FormatTokenHash(HashToken("new-token"));
  Result<std::vector<AuthEntry>> before = ParseAuthFile("ci run " + old_hash + "\n");
  ASSERT_TRUE(before.ok());
  Result<Authenticator> auth = Authenticator::Create(*before, std::string("admin-token-0123456789"));
  ASSERT_TRUE(auth.ok());
  const Authenticator copy = *auth;  // copies share their entries (the server holds one)

  Result<std::vector<AuthEntry>> after = ParseAuthFile("ci admin " + new_hash + "\n");
  ASSERT_TRUE(after.ok());
  Result<std::size_t> tokens = auth->Replace(*after);
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ(*tokens, 2u);  // the new one and HANDOFF_AUTH_TOKEN's
  EXPECT_FALSE(copy.FromToken("old-token", Principal::Via::kToken));
  ASSERT_TRUE(copy.FromToken("new-token", Principal::Via::kToken));
  EXPECT_EQ(copy.FromToken("new-token", Principal::Via::kToken)->role, Role::kAdmin);
  EXPECT_TRUE(copy.FromToken("admin-token-0123456789", Principal::Via::kToken));
  EXPECT_EQ(copy.FromCertificate("ci").role, Role::kAdmin);

  // Entries Create would refuse are refused, and the current ones stay.
  Result<std::vector<AuthEntry>> bad =
      ParseAuthFile("ci admin " + new_hash + "\nci read " + old_hash + "\n");
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(auth->Replace(*bad).ok());
  EXPECT_TRUE(copy.FromToken("new-token", Principal::Via::kToken));
  EXPECT_FALSE(copy.FromToken("old-token", Principal::Via::kToken));
}

}  // namespace
}  // namespace handoff::auth
