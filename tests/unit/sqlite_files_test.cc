// The files behind a SQLite store: its lock (one server per database), the integrity check
// at open, the write probe and online backups.

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/open_store.h"
#include "store/ownership.h"
#include "store/sqlite_backup.h"
#include "store/sqlite_store.h"
#include "result_testing.h"

namespace handoff::store {
namespace {

using ::handoff::testing::ValueOf;

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "handoff-files-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct LogLine {
  LogLevel level;
  std::string message;
  std::string detail;
};

class SqliteFilesTest : public ::testing::Test {
 protected:
  std::string Path() const { return (dir_.path() / "h.db").string(); }
  std::string Url() const { return "sqlite:" + Path(); }

  // Opens the test's database with a log the test reads.
  Result<std::unique_ptr<SqliteStore>> TryOpen() {
    SqliteStoreOptions options;
    options.log = [this](LogLevel level, std::string_view message, std::string_view detail) {
      std::lock_guard lock(log_mu_);
      log_.push_back({level, std::string(message), std::string(detail)});
    };
    return SqliteStore::Open(Url(), options);
  }
  // The same, failing the test if it cannot be opened.
  std::unique_ptr<SqliteStore> Open() { return ValueOf(TryOpen()); }

  bool Logged(const std::string& text) {
    std::lock_guard lock(log_mu_);
    for (const LogLine& line : log_) {
      if (line.message.find(text) != std::string::npos) return true;
    }
    return false;
  }

  // A store with one finished run of two tests; returns the run's id.
  std::int64_t MakeRun(Store& store) {
    store::Run run;
    run.suite = "Suite";
    run.reference = "v1";
    const std::int64_t id = ValueOf(store.CreateRun(run, {"A", "B"})).run.id;
    WriteBatch batch;
    TestRow a;
    a.name = "A";
    a.status = TestStatus::kPassed;
    a.attempt = 1;
    TestRow b = a;
    b.name = "B";
    b.status = TestStatus::kFailed;
    b.message = "b.cc:3: boom";
    batch.tests = {{id, a}, {id, b}};
    RunUpdate update;
    update.id = id;
    update.status = RunStatus::kFailed;
    batch.run_updates.push_back(update);
    store.Write(std::move(batch));
    store.Sync();
    return id;
  }

  void ExpectRunReadsBack(const std::string& url, std::int64_t id) {
    std::unique_ptr<Store> copy = ValueOf(OpenStore(url));
    ASSERT_NE(copy, nullptr);
    std::optional<store::Run> run = copy->GetRun(id);
    ASSERT_TRUE(run.has_value());
    EXPECT_EQ(run->suite, "Suite");
    EXPECT_EQ(run->status, RunStatus::kFailed);
    std::vector<TestRow> tests = copy->GetTests(id);
    ASSERT_EQ(tests.size(), 2u);
    EXPECT_EQ(tests[0].name, "A");
    EXPECT_EQ(tests[0].status, TestStatus::kPassed);
    EXPECT_EQ(tests[1].name, "B");
    EXPECT_EQ(tests[1].message, "b.cc:3: boom");
  }

  TempDir dir_;
  std::mutex log_mu_;
  std::vector<LogLine> log_;
};

// --- Ownership -------------------------------------------------------------------------

TEST_F(SqliteFilesTest, SecondOwnerIsRefusedNamingTheFirstUntilItReleases) {
  std::unique_ptr<StoreOwnership> first = ValueOf(AcquireStoreOwnership(Url()));
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->Description(), "lock file " + Path() + ".lock");

  // flock(2) locks conflict between two opens of the file, even in one process.
  Result<std::unique_ptr<StoreOwnership>> second = AcquireStoreOwnership(Url());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
  const std::string& error = second.error().message;
  EXPECT_NE(error.find("in use by another handoff server"), std::string::npos) << error;
  EXPECT_NE(error.find("pid " + std::to_string(::getpid())), std::string::npos) << error;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_NE(error.find(std::string("on host ") + host), std::string::npos) << error;
  EXPECT_NE(error.find(" since 20"), std::string::npos) << error;
  EXPECT_NE(error.find(Path()), std::string::npos) << error;

  first.reset();
  EXPECT_NE(ValueOf(AcquireStoreOwnership(Url())), nullptr);
}

TEST_F(SqliteFilesTest, MemoryStoresNeedNoOwnership) {
  std::unique_ptr<StoreOwnership> one = ValueOf(AcquireStoreOwnership("sqlite::memory:"));
  std::unique_ptr<StoreOwnership> two = ValueOf(AcquireStoreOwnership("sqlite::memory:"));
  EXPECT_NE(one, nullptr);
  EXPECT_NE(two, nullptr);
}

TEST_F(SqliteFilesTest, OwnershipInAMissingDirectorySaysSo) {
  const std::string path = (dir_.path() / "missing" / "h.db").string();
  Result<std::unique_ptr<StoreOwnership>> result = AcquireStoreOwnership("sqlite:" + path);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
  const std::string& error = result.error().message;
  EXPECT_NE(error.find("cannot open database \"" + path + "\""), std::string::npos) << error;
  EXPECT_NE(error.find("the directory \"" + (dir_.path() / "missing").string() +
                       "\" does not exist"),
            std::string::npos)
      << error;
}

// --- Opening: new, empty, corrupt ---------------------------------------------------------

TEST_F(SqliteFilesTest, MissingAndEmptyFilesAreLoggedAsNewStores) {
  ASSERT_NE(Open(), nullptr);
  EXPECT_TRUE(Logged("new store: creating the database"));

  fs::remove(Path());
  std::ofstream(Path()).close();  // 0 bytes
  ASSERT_EQ(fs::file_size(Path()), 0u);
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(Logged("new store: the database file is empty; initialising it"));
  EXPECT_GT(MakeRun(*store), 0);
}

TEST_F(SqliteFilesTest, OverwrittenPagesAreRefusedNamingTheFile) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 50; ++i) MakeRun(*store);
  }
  const auto size = fs::file_size(Path());
  ASSERT_GE(size, 4u * 4096u);
  {
    // Every page but the first (the header and the schema) overwritten with garbage.
    std::fstream f(Path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    std::string garbage(size - 4096, '\0');
    for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 7 + 3);
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  Result<std::unique_ptr<SqliteStore>> opened = TryOpen();
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kCorrupt);
  const std::string& error = opened.error().message;
  EXPECT_NE(error.find("database \"" + Path() + "\" is corrupt"), std::string::npos) << error;
  EXPECT_NE(error.find("restore it from a backup"), std::string::npos) << error;
}

TEST_F(SqliteFilesTest, AFileThatIsNotADatabaseIsRefused) {
  std::ofstream(Path()) << std::string(8192, 'x');
  Result<std::unique_ptr<SqliteStore>> opened = TryOpen();
  ASSERT_FALSE(opened.ok());
  const std::string& error = opened.error().message;
  EXPECT_NE(error.find("database \"" + Path() + "\" is corrupt or not a SQLite database"),
            std::string::npos)
      << error;
  // Refused without being changed.
  EXPECT_EQ(fs::file_size(Path()), 8192u);
}

// --- The write probe -----------------------------------------------------------------------

TEST_F(SqliteFilesTest, ProbeCommitsAWrite) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  // Twice: the first probe creates its table, the second updates its row.
  for (int i = 0; i < 2; ++i) {
    const Result<void> probe = store->ProbeWrite();
    EXPECT_TRUE(probe.ok()) << probe.error().message;
  }
  auto memory = ValueOf(SqliteStore::Open("sqlite::memory:"));
  ASSERT_NE(memory, nullptr);
  const Result<void> probe = memory->ProbeWrite();
  EXPECT_TRUE(probe.ok()) << probe.error().message;
}

// --- Backups -------------------------------------------------------------------------------

TEST_F(SqliteFilesTest, BackupOfAnOpenStoreReadsBack) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  const std::int64_t id = MakeRun(*store);
  const std::string to = (dir_.path() / "copy.db").string();
  const BackupInfo info = ValueOf(store->Backup(to));
  EXPECT_EQ(info.path, to);
  EXPECT_EQ(info.bytes, static_cast<std::int64_t>(fs::file_size(to)));
  EXPECT_GT(info.pages, 0);
  // No temporary file left behind.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << entry.path();
    ++files;
  }
  EXPECT_GT(files, 0);
  ExpectRunReadsBack("sqlite:" + to, id);
}

TEST_F(SqliteFilesTest, BackupOfAMemoryStoreReadsBack) {
  auto store = ValueOf(SqliteStore::Open("sqlite::memory:"));
  ASSERT_NE(store, nullptr);
  const std::int64_t id = MakeRun(*store);
  const std::string to = (dir_.path() / "memory.db").string();
  EXPECT_EQ(ValueOf(store->Backup(to)).path, to);
  ExpectRunReadsBack("sqlite:" + to, id);
}

TEST_F(SqliteFilesTest, BackupOfAFileWhileAnotherConnectionWritesIsConsistent) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  const std::int64_t id = MakeRun(*store);
  for (int i = 0; i < 200; ++i) MakeRun(*store);
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    while (!stop.load()) {
      MakeRun(*store);
      ++written;
    }
  });
  const std::string to = (dir_.path() / "busy.db").string();
  BackupPacing pacing;
  pacing.pages_per_step = 1;  // as many steps as pages: the writer commits between them
  Result<BackupInfo> result = BackupDatabaseFile(Path(), to, pacing);
  stop.store(true);
  writer.join();
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_GT(written.load(), 0);
  ExpectRunReadsBack("sqlite:" + to, id);
  // The snapshot is whole: every run in it has both its tests.
  std::unique_ptr<Store> copy = ValueOf(OpenStore("sqlite:" + to));
  ASSERT_NE(copy, nullptr);
  RunQuery all;
  all.limit = 100000;
  const std::vector<store::Run> runs = copy->ListRuns(all);
  EXPECT_GE(runs.size(), 201u);
  for (const store::Run& run : runs) {
    // Each run as one of its commits left it: created (tests pending), or finished with
    // both tests written in the same transaction.
    const std::vector<TestRow> tests = copy->GetTests(run.id);
    ASSERT_EQ(tests.size(), 2u) << run.id;
    if (run.status == RunStatus::kFailed) {
      EXPECT_EQ(tests[0].status, TestStatus::kPassed) << run.id;
      EXPECT_EQ(tests[1].status, TestStatus::kFailed) << run.id;
    } else {
      EXPECT_EQ(run.status, RunStatus::kQueued) << run.id;
      EXPECT_EQ(tests[0].status, TestStatus::kPending) << run.id;
      EXPECT_EQ(tests[1].status, TestStatus::kPending) << run.id;
    }
  }
}

TEST_F(SqliteFilesTest, BackupOfAMissingDatabaseFails) {
  Result<BackupInfo> result = BackupDatabaseFile(Path(), (dir_.path() / "x.db").string());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kNotFound);
  EXPECT_NE(result.error().message.find("\"" + Path() + "\": it does not exist"),
            std::string::npos)
      << result.error().message;
  EXPECT_FALSE(fs::exists(Path()));  // not created by the attempt
}

}  // namespace
}  // namespace handoff::store
