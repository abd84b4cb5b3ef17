// Secret params: which names the patterns match, the one decision a run keeps, and every
// surface that reads it (the run's JSON, hooks' RunInfo, the recorder's mask of what tests
// write).

#include "engine/secret_params.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/hook_observer.h"
#include "engine/run_recorder.h"
#include "result_testing.h"
#include "store/open_store.h"
#include "store/run_json.h"
#include "store/store.h"

namespace handoff {
namespace {

using ::handoff::testing::ValueOf;

TEST(SecretPatternTest, MatchesNamesAndGlobsIgnoringCase) {
  EXPECT_TRUE(SecretPatternMatches("PASSWORD", "password"));
  EXPECT_TRUE(SecretPatternMatches("password", "PassWord"));
  EXPECT_FALSE(SecretPatternMatches("PASSWORD", "PASSWORDS"));
  EXPECT_FALSE(SecretPatternMatches("PASSWORD", "DB_PASSWORD"));
  EXPECT_TRUE(SecretPatternMatches("*_TOKEN", "github_token"));
  EXPECT_TRUE(SecretPatternMatches("*_TOKEN", "_TOKEN"));
  EXPECT_FALSE(SecretPatternMatches("*_TOKEN", "TOKEN"));
  EXPECT_FALSE(SecretPatternMatches("*_TOKEN", "github_token_count"));
  EXPECT_TRUE(SecretPatternMatches("*PASS*", "db_passphrase"));
  EXPECT_TRUE(SecretPatternMatches("*", "anything"));
  EXPECT_TRUE(SecretPatternMatches("*", ""));
  EXPECT_TRUE(SecretPatternMatches("KEY?", "key1"));
  EXPECT_FALSE(SecretPatternMatches("KEY?", "key"));
  EXPECT_FALSE(SecretPatternMatches("KEY?", "key12"));
  EXPECT_TRUE(SecretPatternMatches("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(SecretPatternMatches("a*b*c", "aXbYbZ"));
  EXPECT_TRUE(SecretPatternMatches("**x", "x"));
  EXPECT_FALSE(SecretPatternMatches("", "x"));
  // Only '*' and '?' are special: brackets and dots are themselves.
  EXPECT_TRUE(SecretPatternMatches("k[1].x", "K[1].X"));
  EXPECT_FALSE(SecretPatternMatches("k[1].x", "k1.x"));
  // A pattern that would make a naive backtracking matcher exponential answers at once.
  EXPECT_FALSE(SecretPatternMatches("*a*a*a*a*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

TEST(SecretPatternTest, ParsesACommaSeparatedList) {
  const SecretParamPatterns patterns =
      ValueOf(SecretParamPatterns::Parse(" PASSWORD, *_TOKEN ,*_KEY"));
  EXPECT_EQ(patterns.patterns(), (std::vector<std::string>{"PASSWORD", "*_TOKEN", "*_KEY"}));
  EXPECT_TRUE(patterns.Matches("password"));
  EXPECT_TRUE(patterns.Matches("Deploy_Token"));
  EXPECT_TRUE(patterns.Matches("aws_secret_key"));
  EXPECT_FALSE(patterns.Matches("region"));
  EXPECT_FALSE(patterns.Matches("key"));

  EXPECT_TRUE(ValueOf(SecretParamPatterns::Parse("")).patterns().empty());
  EXPECT_TRUE(ValueOf(SecretParamPatterns::Parse("  ")).patterns().empty());
  EXPECT_FALSE(SecretParamPatterns().Matches("password"));
  for (const char* bad : {"A,,B", "A,", ",A", " , "}) {
    Result<SecretParamPatterns> parsed = SecretParamPatterns::Parse(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalid);
    EXPECT_NE(parsed.error().message.find("empty pattern"), std::string::npos)
        << parsed.error().message;
  }
}

TEST(SecretPatternTest, TheDecisionNamesEveryParamASuiteTheServerOrARetryMakesSecret) {
  const store::KeyValues params = {{"region", "eu"},
                                   {"DB_PASSWORD", "hunter22"},
                                   {"deploy_token", "t0k3n"},
                                   {"old", "kept secret"},
                                   {"DB_PASSWORD", "again"}};
  const SecretParamPatterns suite({"db_password"});
  const SecretParamPatterns server = ValueOf(SecretParamPatterns::Parse("*_TOKEN"));
  EXPECT_EQ(DecideSecretParams(params, suite, server, {"old", "gone"}),
            (std::vector<std::string>{"DB_PASSWORD", "deploy_token", "old"}));
  EXPECT_EQ(DecideSecretParams(params, suite, {}, {}), std::vector<std::string>{"DB_PASSWORD"});
  EXPECT_TRUE(DecideSecretParams(params, {}, {}, {}).empty());
}

store::Run RunWithSecrets() {
  store::Run run;
  run.id = 7;
  run.suite = "Checkout";
  run.params = {{"region", "eu"}, {"DB_PASSWORD", "hunter22"}, {"token", "t0k3n"}};
  run.secret_params = {"DB_PASSWORD", "token"};
  return run;
}

TEST(SecretParamsTest, ShownParamsRedactsTheSecretOnesOnly) {
  const store::Run run = RunWithSecrets();
  EXPECT_TRUE(store::IsSecretParam(run, "token"));
  EXPECT_FALSE(store::IsSecretParam(run, "TOKEN"));  // the run keeps the names as given
  EXPECT_FALSE(store::IsSecretParam(run, "region"));
  EXPECT_EQ(store::ShownParams(run), (store::KeyValues{{"region", "eu"},
                                                       {"DB_PASSWORD", "[redacted]"},
                                                       {"token", "[redacted]"}}));
  store::Run plain = run;
  plain.secret_params.clear();
  EXPECT_EQ(store::ShownParams(plain), plain.params);
}

TEST(SecretParamsTest, TheRunJsonTheJournalAndHooksNeverShowASecret) {
  const store::Run run = RunWithSecrets();
  std::string json;
  store::AppendRunJson(json, run, nullptr);
  EXPECT_NE(
      json.find(R"("params":{"region":"eu","DB_PASSWORD":"[redacted]","token":"[redacted]"})"),
      std::string::npos)
      << json;
  EXPECT_EQ(json.find("hunter22"), std::string::npos) << json;
  EXPECT_EQ(json.find("t0k3n"), std::string::npos) << json;
  const std::string event = RunEventData(run);  // what the live stream sends
  EXPECT_EQ(event.find("hunter22"), std::string::npos) << event;
  EXPECT_NE(event.find("[redacted]"), std::string::npos) << event;

  const RunInfo info = MakeRunInfo(run, Totals{});
  EXPECT_EQ(info.params, (KeyValueList{{"region", "eu"},
                                       {"DB_PASSWORD", "[redacted]"},
                                       {"token", "[redacted]"}}));
}

TEST(SecretMaskTest, MasksEverySecretLongEnoughAndEachLineOfAMultiLineOne) {
  store::Run run = RunWithSecrets();
  run.params.emplace_back("pem", "-----BEGIN KEY-----\r\nQUJDREVG\nab\n-----END KEY-----");
  run.params.emplace_back("pin", "123");
  run.params.emplace_back("prefix", "hunter");  // not secret: never masked
  run.secret_params.push_back("pem");
  run.secret_params.push_back("pin");
  const SecretMask mask = SecretMask::Of(run);
  ASSERT_FALSE(mask.empty());

  std::string text = "login with hunter22 and t0k3n, then hunter22hunter22";
  EXPECT_TRUE(mask.Mask(text));
  EXPECT_EQ(text, "login with [redacted] and [redacted], then [redacted][redacted]");
  std::string line = "QUJDREVG";
  EXPECT_TRUE(mask.Mask(line));
  EXPECT_EQ(line, "[redacted]");
  // Too short to mask without masking ordinary text: "123", and the pem's line "ab".
  std::string shorts = "pin 123, ab, hunter";
  EXPECT_FALSE(mask.Mask(shorts));
  EXPECT_EQ(shorts, "pin 123, ab, hunter");

  store::Run plain = run;
  plain.secret_params.clear();
  EXPECT_TRUE(SecretMask::Of(plain).empty());
}

// A run's and a hunt's description (labels, reference, who asked, on whose behalf) is shown:
// a secret pasted there is masked, and the rest is left as it is.
TEST(SecretMaskTest, MasksADescriptionsLabelsAndTextsFromParamsAndTheirSecretNames) {
  const store::KeyValues params = {{"password", "hunter22"}, {"region", "eu-west"}};
  const SecretMask mask = SecretMask::Of(params, {"password"});
  store::KeyValues labels = {{"note", "pasted hunter22"}, {"team", "eu-west"}};
  std::string reference = "v1 hunter22";
  std::string behalf = "me (hunter22)";
  std::string untouched = "hunter22";
  mask.MaskDescription(labels, {&reference, &behalf});
  EXPECT_EQ(labels, (store::KeyValues{{"note", "pasted [redacted]"}, {"team", "eu-west"}}));
  EXPECT_EQ(reference, "v1 [redacted]");
  EXPECT_EQ(behalf, "me ([redacted])");
  EXPECT_EQ(untouched, "hunter22");
  // A param not named secret masks nothing, whatever its name.
  std::string region = "in eu-west";
  EXPECT_FALSE(mask.Mask(region));
  EXPECT_TRUE(SecretMask::Of(params, {}).empty());
  EXPECT_TRUE(SecretMask::Of(params, {"absent"}).empty());
}

TEST(SecretMaskTest, TheRecorderStoresWhatTestsWriteWithTheSecretsMasked) {
  std::unique_ptr<store::Store> store = ValueOf(store::OpenStore("sqlite::memory:"));
  ASSERT_NE(store, nullptr);
  store::Run run = RunWithSecrets();
  run.id = 0;
  run = ValueOf(store->CreateRun(run, {"Pay"})).run;
  RunJournal journal(run.id, 0);
  std::vector<FinishedTest> finished;
  RunRecorder recorder(
      *store, journal,
      [&](const Committed& c) {
        finished.insert(finished.end(), c.finished.begin(), c.finished.end());
      },
      SecretMask::Of(run));
  auto emit = [&](EventKind kind, std::string text, std::string key = "") {
    Event e;
    e.kind = kind;
    e.suite = "Checkout";
    e.test = "Pay";
    e.attempt = 1;
    e.time_ns = 1'000'000'000;
    e.text = std::move(text);
    e.key = std::move(key);
    e.status = Status::kFailed;
    recorder.OnEvent(e);
  };
  emit(EventKind::kTestStarted, "");
  emit(EventKind::kOutput, "connecting as admin:hunter22");
  emit(EventKind::kLog, "token t0k3n");
  emit(EventKind::kValue, "t0k3n", "used_token");
  emit(EventKind::kFailure, "login with hunter22 refused");
  emit(EventKind::kAttemptFinished, "");
  emit(EventKind::kTestFinished, "");
  recorder.Flush();
  store->Sync();

  const std::vector<store::Attempt> attempts = store->GetAttempts(run.id, "Pay");
  ASSERT_EQ(attempts.size(), 1u);
  std::string all;
  for (const store::OutputLine& line : attempts[0].lines) all += line.text + "\n";
  for (const store::Failure& f : attempts[0].failures) all += f.message + "\n";
  for (const auto& [key, value] : attempts[0].values) all += key + "=" + value + "\n";
  all += store->GetTests(run.id).at(0).message;
  EXPECT_EQ(all,
            "connecting as admin:[redacted]\ntoken [redacted]\nlogin with [redacted] refused\n"
            "login with [redacted] refused\nused_token=[redacted]\n"
            "login with [redacted] refused")
      << all;
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0].row.message, "login with [redacted] refused");
  EXPECT_EQ(finished[0].values, (store::KeyValues{{"used_token", "[redacted]"}}));
}

}  // namespace
}  // namespace handoff
