// Attachments (t.Attach) end to end: `run` writes them under its attachments directory and
// names them in JUnit (the Jenkins attachments plugin's [[ATTACHMENT|path]]), go test -json
// and the text report; `serve` stores them with the attempt, lists them in the API and serves
// them for download without letting a test's HTML run on the UI's origin; the bounds fail
// the test that breaks them; a failed test keeps the log of the runnables it started.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "blackbox/process.h"
#include "blackbox/serve_harness.h"

namespace handoff::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

const std::string kPng("\x89PNG\r\n\x1a\n\0\x01\xff", 11);

class AttachRunTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ProcessResult Run(std::vector<std::string> flags) {
    std::vector<std::string> argv = {ATTACH_FIXTURE, "run"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return RunProcess(argv, {{"HOME", dir_}});
  }

  std::string dir_;
};

TEST_F(AttachRunTest, RunWritesAttachmentsBesideTheJunitReportAndNamesThem) {
  const std::string junit = dir_ + "/reports/junit.xml";
  std::filesystem::create_directories(dir_ + "/reports");
  const ProcessResult r = Run({"--run", "Screenshot|Passes", "--report-junit", junit,
                               "--report-json", dir_ + "/reports/go.json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const std::string root = dir_ + "/reports/attachments/Attach";
  EXPECT_EQ(ReadFile(root + "/Screenshot/attempt-1/shot.png"), kPng);
  EXPECT_EQ(ReadFile(root + "/Screenshot/attempt-1/notes.txt"), "line one\nline two\n");
  EXPECT_EQ(ReadFile(root + "/Screenshot/attempt-1/from-thread.txt"),
            "attached from another thread");
  EXPECT_EQ(ReadFile(root + "/Screenshot%2FSub/attempt-1/sub.txt"), "a subtest's file");
  EXPECT_EQ(ReadFile(root + "/Passes/attempt-1/ok.json"), R"({"ok":true})");

  const std::string xml = ReadFile(junit);
  for (const std::string& file :
       {"Screenshot/attempt-1/shot.png", "Screenshot/attempt-1/page.html",
        "Screenshot%2FSub/attempt-1/sub.txt", "Passes/attempt-1/ok.json"}) {
    EXPECT_NE(xml.find("[[ATTACHMENT|" + root + "/" + file + "]]"), std::string::npos)
        << file << "\n" << xml;
  }
  EXPECT_NE(ReadFile(dir_ + "/reports/go.json")
                .find("attachment shot.png (image/png, 11 bytes): " + root +
                      "/Screenshot/attempt-1/shot.png"),
            std::string::npos);
  // The text report names a failed test's files.
  EXPECT_NE(r.out.find("attachment shot.png (image/png, 11 bytes): " + root +
                       "/Screenshot/attempt-1/shot.png"),
            std::string::npos)
      << r.out;
}

TEST_F(AttachRunTest, AttachmentsDirFlagAndInProcessRunsWriteTheSameFiles) {
  const ProcessResult r =
      Run({"--run", "Passes", "--attachments-dir", dir_ + "/out", "--isolation", "none"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(ReadFile(dir_ + "/out/Attach/Passes/attempt-1/ok.json"), R"({"ok":true})");
}

TEST_F(AttachRunTest, BrokenBoundsFailTheTestSayingWhyAndKeepNothing) {
  const ProcessResult r =
      Run({"--run", "Bounds", "--attachments-dir", dir_ + "/out", "--format", "json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  for (const std::string& why :
       {"Attach(\\\"big.bin\\\"): not kept: it is 10485761 bytes, over the limit of 10485760 bytes per attachment",
        "Attach(\\\"../escape.txt\\\"): not kept: attachment name \\\"../escape.txt\\\" has a path separator",
        "Attach(\\\"typed.txt\\\"): not kept: \\\"not a type\\\" is not a media type",
        "Attach(\\\"twice.txt\\\"): not kept: this test already attached a file of that name",
        "AttachFile(\\\"missing.txt\\\"): cannot read /nonexistent/handoff/missing.txt"}) {
    EXPECT_NE(r.out.find(why), std::string::npos) << why << "\n" << r.out;
  }
  EXPECT_EQ(ReadFile(dir_ + "/out/Attach/Bounds/attempt-1/twice.txt"), "first");
  std::vector<std::string> kept;
  for (const auto& entry :
       std::filesystem::directory_iterator(dir_ + "/out/Attach/Bounds/attempt-1")) {
    kept.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(kept, std::vector<std::string>{"twice.txt"});
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/out/escape.txt"));
}

TEST_F(AttachRunTest, AFailedTestKeepsTheLogsOfItsRunnablesAPassingOneDoesNot) {
  const ProcessResult r =
      Run({"--run", "Logs", "--attachments-dir", dir_ + "/out", "--report-junit", dir_ + "/j.xml"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(ReadFile(dir_ + "/out/Attach/LogsOnFailure/attempt-1/runnable-api.log"),
            "api listening\nGET /cart 500\n");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/out/Attach/NoLogsOnPass"));
  EXPECT_NE(ReadFile(dir_ + "/j.xml").find("[[ATTACHMENT|" + dir_ +
                                             "/out/Attach/LogsOnFailure/attempt-1/runnable-api.log]]"),
            std::string::npos);
}

// --- serve -------------------------------------------------------------------------------

class AttachServeTest : public ServeDatabaseTest {
 protected:
  Server* Start() {
    return StartServer(servers_, starts_, dir_,
                       {ATTACH_FIXTURE, "serve", "--port", "0", "--db", db_.url()}, {});
  }

  http::ClientResult Get(Server* s, const std::string& target) {
    return s->client().Request("GET", target, {}, {}, std::chrono::seconds(10));
  }

  // Runs the suite with `filter` and waits for it to finish; returns the run's id.
  std::int64_t RunSuite(Server* s, const std::string& filter) {
    const http::ClientResult created = s->client().Request(
        "POST", "/api/v1/suites/Attach/runs", R"({"filter":")" + filter + R"("})", {},
        std::chrono::seconds(10));
    EXPECT_EQ(created.status, 201) << created.body;
    const std::int64_t id = Int(Parse(created.body), "id");
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      const json::value run = Parse(Get(s, fmt::format("/api/v1/runs/{}", id)).body);
      if (!Str(run, "finished_at").empty()) return id;
      ::usleep(20'000);
    }
    ADD_FAILURE() << "run " << id << " did not finish";
    return id;
  }

  // The attachments of the test's last attempt, by name.
  std::map<std::string, json::value> Attachments(Server* s, std::int64_t id,
                                                 const std::string& test) {
    const http::ClientResult r = Get(s, fmt::format("/api/v1/runs/{}/tests/{}", id, test));
    EXPECT_EQ(r.status, 200) << r.body;
    std::map<std::string, json::value> out;
    const json::value body = Parse(r.body);
    const json::array& attempts = Arr(body, "attempts");
    if (attempts.empty()) return out;
    for (const json::value& a : Arr(attempts.back(), "attachments")) out[Str(a, "name")] = a;
    return out;
  }

};

TEST_F(AttachServeTest, ServeStoresAttachmentsListsThemAndServesThemSafely) {
  Server* s = Start();
  ASSERT_NE(s, nullptr);
  const std::int64_t id = RunSuite(s, "Screenshot|LogsOnFailure");

  std::map<std::string, json::value> shot = Attachments(s, id, "Screenshot");
  ASSERT_EQ(shot.size(), 4u);
  EXPECT_EQ(Str(shot["shot.png"], "media_type"), "image/png");
  EXPECT_EQ(Int(shot["shot.png"], "size"), 11);
  const std::string url = Str(shot["shot.png"], "url");
  EXPECT_EQ(url, fmt::format("/api/v1/runs/{}/attachments/Screenshot/1/shot.png", id));
  EXPECT_EQ(Str(shot["page.html"], "media_type"), "text/html");
  EXPECT_EQ(Attachments(s, id, "Screenshot/Sub").count("sub.txt"), 1u);

  // An image is shown inline, under its type, sandboxed and never sniffed.
  http::ClientResult png = Get(s, url);
  EXPECT_EQ(png.status, 200);
  EXPECT_EQ(png.body, kPng);
  EXPECT_EQ(png.Header("Content-Type"), "image/png");
  EXPECT_EQ(png.Header("Content-Disposition"),
            "inline; filename=\"shot.png\"; filename*=UTF-8''shot.png");
  EXPECT_EQ(png.Header("X-Content-Type-Options"), "nosniff");
  EXPECT_NE(png.Header("Content-Security-Policy").find("sandbox"), std::string::npos);

  // A test's HTML is a download of bytes, never a page on the UI's origin.
  http::ClientResult html = Get(s, Str(shot["page.html"], "url"));
  EXPECT_EQ(html.status, 200);
  EXPECT_EQ(html.body, "<script>document.title='owned'</script>");
  EXPECT_EQ(html.Header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(html.Header("Content-Disposition").rfind("attachment;", 0), 0u);

  // Text is text, in UTF-8.
  http::ClientResult notes = Get(s, Str(shot["notes.txt"], "url"));
  EXPECT_EQ(notes.Header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(notes.body, "line one\nline two\n");

  // The run's list, and the runnable's log of the failed test.
  const json::value all = Parse(Get(s, fmt::format("/api/v1/runs/{}/attachments", id)).body);
  std::vector<std::string> names;
  for (const json::value& a : Arr(all, "attachments")) {
    names.push_back(Str(a, "test") + ":" + Str(a, "name"));
  }
  EXPECT_EQ(names, (std::vector<std::string>{
                       "LogsOnFailure:runnable-api.log", "Screenshot:shot.png",
                       "Screenshot:page.html", "Screenshot:notes.txt",
                       "Screenshot:from-thread.txt", "Screenshot/Sub:sub.txt"}));
  http::ClientResult log = Get(s, fmt::format(
                                      "/api/v1/runs/{}/attachments/LogsOnFailure/1/runnable-api.log", id));
  EXPECT_EQ(log.body, "api listening\nGET /cart 500\n");

  // What is not there is 404; a malformed path is 400; both JSON errors.
  EXPECT_EQ(Get(s, fmt::format("/api/v1/runs/{}/attachments/Screenshot/2/shot.png", id)).status,
            404);
  EXPECT_EQ(Get(s, fmt::format("/api/v1/runs/{}/attachments/Screenshot/x/shot.png", id)).status,
            400);
  EXPECT_EQ(Get(s, fmt::format("/api/v1/runs/{}/attachments/shot.png", id)).status, 400);
  EXPECT_EQ(Get(s, fmt::format("/api/v1/runs/{}/attachments/Screenshot/1/..", id)).status, 400);
  EXPECT_EQ(Get(s, "/api/v1/runs/999999/attachments").status, 404);
}

}  // namespace
}  // namespace handoff::testing
