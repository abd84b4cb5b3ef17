// t.Attach's rules (event/attachment.h), the files `run` writes (report/attachment_files.h)
// and the reports that name them: JUnit's [[ATTACHMENT|path]] lines, the go test -json
// output line, the text report.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "event/attachment.h"
#include "event/wire.h"
#include "report/attachment_files.h"
#include "report/reporters.h"
#include "report/results.h"
#include "report_fixture.h"
#include "support/temp_dir.h"

namespace handoff {
namespace {

using ::handoff::report_testing::Capture;
using ::handoff::report_testing::EventScript;

TEST(AttachmentRulesTest, NamesAreFileNames) {
  EXPECT_EQ(CheckAttachmentName("screenshot.png"), "");
  EXPECT_EQ(CheckAttachmentName("response body (2).json"), "");
  EXPECT_EQ(CheckAttachmentName(".hidden"), "");
  EXPECT_NE(CheckAttachmentName(""), "");
  EXPECT_NE(CheckAttachmentName("."), "");
  EXPECT_NE(CheckAttachmentName(".."), "");
  EXPECT_NE(CheckAttachmentName("../etc/passwd"), "");
  EXPECT_NE(CheckAttachmentName("logs/app.log"), "");
  EXPECT_NE(CheckAttachmentName("a\\b"), "");
  EXPECT_NE(CheckAttachmentName("a\nb"), "");
  EXPECT_NE(CheckAttachmentName(std::string("a\0b", 3)), "");
  EXPECT_EQ(CheckAttachmentName(std::string(kMaxAttachmentName, 'x')), "");
  EXPECT_NE(CheckAttachmentName(std::string(kMaxAttachmentName + 1, 'x')), "");
}

TEST(AttachmentRulesTest, MediaTypesAreTypeSlashSubtype) {
  EXPECT_EQ(CheckMediaType("image/png"), "");
  EXPECT_EQ(CheckMediaType("application/vnd.api+json"), "");
  EXPECT_NE(CheckMediaType("png"), "");
  EXPECT_NE(CheckMediaType("text/"), "");
  EXPECT_NE(CheckMediaType("/plain"), "");
  EXPECT_NE(CheckMediaType("text/plain; charset=utf-8"), "");
  EXPECT_NE(CheckMediaType("text/html\r\nX-Evil: 1"), "");
  EXPECT_NE(CheckMediaType("a/b/c"), "");
  EXPECT_EQ(NormalizeMediaType("Image/PNG"), "image/png");
}

TEST(AttachmentRulesTest, GuessesByExtension) {
  EXPECT_EQ(GuessMediaType("shot.PNG"), "image/png");
  EXPECT_EQ(GuessMediaType("app.log"), "text/plain");
  EXPECT_EQ(GuessMediaType("session.har"), "application/json");
  EXPECT_EQ(GuessMediaType("page.html"), "text/html");
  EXPECT_EQ(GuessMediaType("blob"), "application/octet-stream");
}

TEST(AttachmentRulesTest, OnlyTypesThatCannotRunScriptAreInline) {
  for (const char* safe : {"image/png", "image/jpeg", "image/gif", "image/webp", "text/plain",
                           "application/json", "application/pdf", "IMAGE/PNG"}) {
    EXPECT_TRUE(IsInlineSafe(safe)) << safe;
  }
  for (const char* unsafe : {"text/html", "image/svg+xml", "text/javascript",
                             "application/javascript", "application/xml", "text/xml",
                             "application/xhtml+xml", "application/octet-stream", "text/csv"}) {
    EXPECT_FALSE(IsInlineSafe(unsafe)) << unsafe;
  }
}

TEST(AttachmentRulesTest, PathComponentsKeepNamesApartAndInside) {
  EXPECT_EQ(PathComponent("Checkout"), "Checkout");
  EXPECT_EQ(PathComponent("Checkout/Card"), "Checkout%2FCard");
  EXPECT_EQ(PathComponent(".."), "%2E.");
  EXPECT_NE(PathComponent("a/b"), PathComponent("a%2Fb"));
  EXPECT_EQ(AttachmentPath("/r", "Shop", "Checkout/Card", 2, "shot.png"),
            "/r/Shop/Checkout%2FCard/attempt-2/shot.png");
}

TEST(AttachmentWireTest, AttachmentEventsRoundTripWithTheirBytes) {
  Event e;
  e.kind = EventKind::kAttachment;
  e.time_ns = 5;
  e.test = "Checkout/Card";
  e.attempt = 2;
  e.key = "shot.png";
  e.file = "image/png";
  e.text.assign(1 << 20, '\0');
  for (std::size_t i = 0; i < e.text.size(); ++i) e.text[i] = static_cast<char>(i * 7);
  std::string buf;
  wire::AppendEvent(buf, e);
  wire::FrameReader frames;
  frames.Feed(buf);
  const std::optional<std::string_view> payload = frames.Next();
  ASSERT_TRUE(payload);
  const std::optional<Event> got = wire::DecodeEvent(*payload);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->kind, EventKind::kAttachment);
  EXPECT_EQ(got->test, e.test);
  EXPECT_EQ(got->attempt, 2);
  EXPECT_EQ(got->key, "shot.png");
  EXPECT_EQ(got->file, "image/png");
  EXPECT_EQ(got->text, e.text);
  EXPECT_STREQ(EventKindName(EventKind::kAttachment), "attachment");
  // The largest attachment fits in a frame with room for the rest of its event.
  static_assert(kMaxAttachmentBytes + (64u << 10) < wire::kMaxFrameBytes);
}

// One suite "S" whose test "T" attaches `name` (of `type`, `data`) in attempt 1, then fails.
EventScript AttachingTest(const std::string& name, const std::string& type,
                          const std::string& data) {
  EventScript s;
  s.Add(EventKind::kRunStarted);
  s.Add(EventKind::kSuiteStarted, "S");
  s.Start("S", "T");
  s.Output("S", "T", "working");
  Event& a = s.Add(EventKind::kAttachment, "S", "T");
  a.attempt = 1;
  a.key = name;
  a.file = type;
  a.text = data;
  s.Located(EventKind::kFailure, "S", "T", "wrong page", "t.cc", 3);
  s.AttemptEnd("S", "T", 1, Status::kFailed, 0);
  s.Finish("S", "T", Status::kFailed, 0);
  s.SuiteEvent(EventKind::kSuiteFinished, "S", Status::kFailed);
  s.SuiteEvent(EventKind::kRunFinished, "", Status::kFailed);
  return s;
}

TEST(AttachmentFilesTest, WritesEachAttachmentWhereReportsSayItIs) {
  testing::TempDir dir;
  const std::string root = dir.path().string() + "/attachments";
  AttachmentFiles files(root, stderr);
  ResultCollector results;
  results.set_attachments_dir(root);
  const std::string png("\x89PNG\r\n\x1a\n\0rest", 13);
  AttachingTest("shot.png", "image/png", png).Feed({&files, &results});
  EXPECT_EQ(files.written(), 1);
  const std::string path = root + "/S/T/attempt-1/shot.png";
  std::ifstream in(path, std::ios::binary);
  std::stringstream read;
  read << in.rdbuf();
  EXPECT_EQ(read.str(), png);
  const TestResult& t = results.result().suites.at(0).tests.at(0);
  ASSERT_EQ(t.attachments.size(), 1u);
  EXPECT_EQ(t.attachments[0].path, path);
  EXPECT_EQ(t.attachments[0].size, png.size());
  EXPECT_EQ(t.attachments[0].media_type, "image/png");
}

TEST(AttachmentFilesTest, AFileThatCannotBeWrittenIsAWarningNotAFailure) {
  testing::TempDir dir;
  // A file where the directory should be.
  std::ofstream(dir.path().string() + "/blocked") << "x";
  const std::string warnings = Capture([&](std::FILE* out) {
    AttachmentFiles files(dir.path().string() + "/blocked", out);
    AttachingTest("shot.png", "image/png", "x").Feed({&files});
    EXPECT_EQ(files.written(), 0);
  });
  EXPECT_NE(warnings.find("cannot write attachment"), std::string::npos) << warnings;
}

TEST(AttachmentReportsTest, JunitListsTheJenkinsAttachmentLine) {
  const EventScript script = AttachingTest("shot.png", "image/png", "png");
  const std::string xml = Capture([&](std::FILE* out) {
    ResultCollector results;
    results.set_attachments_dir("/reports/attachments");
    std::unique_ptr<EventSink> junit = MakeJunitReporter(out, results, "h");
    script.Feed({&results, junit.get()});
  });
  EXPECT_NE(xml.find("<system-out>working\n"), std::string::npos) << xml;
  EXPECT_NE(xml.find("[[ATTACHMENT|/reports/attachments/S/T/attempt-1/shot.png]]\n</system-out>"),
            std::string::npos)
      << xml;
}

TEST(AttachmentReportsTest, JsonAndTextReportsNameTheFile) {
  const EventScript script = AttachingTest("body.json", "application/json", "{}");
  const std::string json = Capture([&](std::FILE* out) {
    std::unique_ptr<EventSink> reporter = MakeJsonReporter(out, "/r");
    script.Feed({reporter.get()});
  });
  EXPECT_NE(json.find(R"("Output":"    attachment body.json (application/json, 2 bytes): /r/S/T/attempt-1/body.json\n")"),
            std::string::npos)
      << json;
  const std::string text = Capture([&](std::FILE* out) {
    ResultCollector results;
    results.set_attachments_dir("/r");
    std::unique_ptr<EventSink> reporter = MakeTextReporter(out, results, TextOptions{});
    script.Feed({&results, reporter.get()});
  });
  EXPECT_NE(text.find("attachment body.json (application/json, 2 bytes): /r/S/T/attempt-1/body.json"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace handoff
