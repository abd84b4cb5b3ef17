// Attachments in the store (store/store.h): written with a batch, listed per run and per
// test in order, read back byte for byte, replaced when an attempt attaches a name again,
// deleted by retention, and added to an older database by its migration. Each case runs
// over every backend (tests/support/store_backends.h).

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "result_testing.h"
#include "store/open_store.h"
#include "store/run_json.h"
#include "store/store.h"
#include "support/store_backends.h"
#include "support/store_test_data.h"

namespace handoff::store {
namespace {

using ::handoff::testing::EveryStoreBackend;
using ::handoff::testing::ValueOf;
using ::handoff::testing::StoreBackend;
using ::handoff::testing::StoreBackendName;
using ::handoff::testing::WriteAndWait;

StoredAttachment Attachment(std::string test, int attempt, std::string name, std::string type,
                            std::string data) {
  StoredAttachment a;
  a.info = AttachmentInfo{std::move(test), attempt, std::move(name), std::move(type),
                          static_cast<std::int64_t>(data.size())};
  a.data = std::move(data);
  return a;
}

class AttachmentStoreTest : public ::handoff::testing::StoreBackendTest {
 protected:
  std::int64_t CreateRun(RunStatus status = RunStatus::kRunning) {
    store::Run run;
    run.suite = "shop";
    run.status = status;
    return ValueOf(store_->CreateRun(run, {"Checkout", "Checkout/Card"})).run.id;
  }
};

TEST_P(AttachmentStoreTest, WrittenAttachmentsListInOrderAndReadBackByteForByte) {
  const std::int64_t id = CreateRun();
  const std::string png("\x89PNG\r\n\x1a\n\0\xff\xfe", 11);
  WriteBatch batch;
  batch.attachments.emplace_back(id, Attachment("Checkout/Card", 1, "shot.png", "image/png", png));
  batch.attachments.emplace_back(id, Attachment("Checkout", 1, "body.json", "application/json", "{}"));
  batch.attachments.emplace_back(id, Attachment("Checkout", 1, "a.txt", "text/plain", ""));
  batch.attachments.emplace_back(id, Attachment("Checkout", 2, "body.json", "application/json", "[1]"));
  ASSERT_TRUE(WriteAndWait(*store_, batch));

  const std::vector<AttachmentInfo> all = ValueOf(store_->ListAttachments(id, std::nullopt));
  ASSERT_EQ(all.size(), 4u);
  // By test, then attempt, then the order they were stored.
  EXPECT_EQ(all[0], (AttachmentInfo{"Checkout", 1, "body.json", "application/json", 2}));
  EXPECT_EQ(all[1], (AttachmentInfo{"Checkout", 1, "a.txt", "text/plain", 0}));
  EXPECT_EQ(all[2], (AttachmentInfo{"Checkout", 2, "body.json", "application/json", 3}));
  EXPECT_EQ(all[3], (AttachmentInfo{"Checkout/Card", 1, "shot.png", "image/png", 11}));

  const std::vector<AttachmentInfo> card = ValueOf(store_->ListAttachments(id, "Checkout/Card"));
  ASSERT_EQ(card.size(), 1u);
  EXPECT_EQ(card[0].name, "shot.png");
  EXPECT_TRUE(ValueOf(store_->ListAttachments(id + 1, std::nullopt)).empty());

  const std::optional<StoredAttachment> got =
      ValueOf(store_->GetAttachment(id, "Checkout/Card", 1, "shot.png"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, png);
  EXPECT_EQ(got->info, card[0]);
  EXPECT_FALSE(ValueOf(store_->GetAttachment(id, "Checkout/Card", 2, "shot.png")));
  EXPECT_FALSE(ValueOf(store_->GetAttachment(id, "Checkout", 1, "shot.png")));
  EXPECT_FALSE(ValueOf(store_->GetAttachment(id + 1, "Checkout/Card", 1, "shot.png")));
}

TEST_P(AttachmentStoreTest, AttachingANameAgainInAnAttemptReplacesIt) {
  const std::int64_t id = CreateRun();
  WriteBatch first;
  first.attachments.emplace_back(id, Attachment("Checkout", 1, "log.txt", "text/plain", "old"));
  ASSERT_TRUE(WriteAndWait(*store_, first));
  WriteBatch again;
  again.attachments.emplace_back(id, Attachment("Checkout", 1, "log.txt", "text/plain", "newer"));
  ASSERT_TRUE(WriteAndWait(*store_, again));
  const std::vector<AttachmentInfo> all = ValueOf(store_->ListAttachments(id, std::nullopt));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].size, 5);
  EXPECT_EQ(ValueOf(store_->GetAttachment(id, "Checkout", 1, "log.txt"))->data, "newer");
}

TEST_P(AttachmentStoreTest, RetentionDeletesTheAttachmentsOfTheRunsItDeletes) {
  now_ = 100;
  const std::int64_t old_run = CreateRun(RunStatus::kFailed);
  now_ = 300;
  const std::int64_t new_run = CreateRun(RunStatus::kFailed);
  WriteBatch batch;
  batch.attachments.emplace_back(old_run, Attachment("Checkout", 1, "a.txt", "text/plain", "a"));
  batch.attachments.emplace_back(new_run, Attachment("Checkout", 1, "b.txt", "text/plain", "b"));
  ASSERT_TRUE(WriteAndWait(*store_, batch));
  EXPECT_EQ(store_->DeleteRunsBefore(200), 1);
  EXPECT_TRUE(ValueOf(store_->ListAttachments(old_run, std::nullopt)).empty());
  EXPECT_FALSE(ValueOf(store_->GetAttachment(old_run, "Checkout", 1, "a.txt")));
  EXPECT_EQ(ValueOf(store_->ListAttachments(new_run, std::nullopt)).size(), 1u);
  if (Queryable()) EXPECT_EQ(CountRows("attachments"), 1);
}

TEST_P(AttachmentStoreTest, AnOlderSchemaGainsTheAttachmentsTableAndKeepsItsRuns) {
  if (!Queryable()) GTEST_SKIP() << "an in-memory database has no older schema to open";
  const std::int64_t id = CreateRun(RunStatus::kPassed);
  store_.reset();
  // The schema before attachments (and ingested suites and holds, which came next): SQLite's 11,
  // PostgreSQL's 5.
  if (GetParam() == StoreBackend::kPostgres) {
    Query("DROP TABLE hunts");
    Query("ALTER TABLE runs DROP COLUMN hunt_id");
    Query("ALTER TABLE schedules DROP COLUMN hunt_repeat, DROP COLUMN hunt_until_failure, "
          "DROP COLUMN hunt_max_duration_ms");
    Query("DROP TABLE attachments");
    Query("DROP TABLE ingested_suites");
    Query("ALTER TABLE runs DROP COLUMN hold, DROP COLUMN hold_on_failure, "
          "DROP COLUMN release_requested");
    Query("DELETE FROM handoff_schema WHERE version >= 6");
  } else {
    // Query's SQLite connection is read-only: a writing one of our own.
    const std::string url = database_->url();
    EXPECT_EQ(::handoff::testing::ExecSqliteFile(
                  url.substr(url.find(':') + 1),
                  "ALTER TABLE runs DROP COLUMN hold; ALTER TABLE runs DROP COLUMN hold_on_failure; "
                  "DROP TABLE hunts; DROP INDEX runs_by_hunt; ALTER TABLE runs DROP COLUMN hunt_id; "
                  "ALTER TABLE schedules DROP COLUMN hunt_repeat; "
                  "ALTER TABLE schedules DROP COLUMN hunt_until_failure; "
                  "ALTER TABLE schedules DROP COLUMN hunt_max_duration_ms; "
                  "DROP TABLE attachments; DROP TABLE ingested_suites; PRAGMA user_version=11"),
              "");
  }
  EXPECT_EQ(Query("SELECT count(*) FROM " +
                  std::string(GetParam() == StoreBackend::kPostgres
                                  ? "pg_tables WHERE tablename = 'attachments'"
                                  : "sqlite_master WHERE name = 'attachments'")),
            std::vector<std::string>{"0"});
  store_ = ValueOf(OpenStore(database_->url()));
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(store_->GetRun(id)->status, RunStatus::kPassed);
  EXPECT_EQ(CountRows("attachments"), 0);
  // The migrations after it ran too.
  EXPECT_TRUE(store_->AddIngestedSuite({"go.shop", 1}).ok());
  EXPECT_EQ(store_->ListIngestedSuites().size(), 1u);
  WriteBatch batch;
  batch.attachments.emplace_back(id, Attachment("Checkout", 1, "a.txt", "text/plain", "kept"));
  ASSERT_TRUE(WriteAndWait(*store_, batch));
  EXPECT_EQ(ValueOf(store_->GetAttachment(id, "Checkout", 1, "a.txt"))->data, "kept");
}

TEST(AttachmentJsonTest, AttemptsListTheirOwnAttachmentsWithDownloadUrls) {
  Attempt attempt;
  attempt.test = "Checkout/Card 1";
  attempt.attempt = 2;
  const std::vector<AttachmentInfo> attachments = {
      {"Checkout/Card 1", 1, "old.png", "image/png", 1},
      {"Checkout/Card 1", 2, "shot #1.png", "image/png", 42},
      {"Checkout", 2, "other.txt", "text/plain", 3},
  };
  std::string json;
  AppendAttemptJson(json, attempt, {}, attachments, 7);
  EXPECT_NE(json.find(R"("attachments":[{"name":"shot #1.png","media_type":"image/png","size":42,)"
                      R"("url":"/api/v1/runs/7/attachments/Checkout/Card%201/2/shot%20%231.png"}]})"),
            std::string::npos)
      << json;
}

INSTANTIATE_TEST_SUITE_P(AttachmentStore, AttachmentStoreTest, EveryStoreBackend(),
                         StoreBackendName);

}  // namespace
}  // namespace handoff::store
