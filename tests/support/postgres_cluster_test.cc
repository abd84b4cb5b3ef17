// The tests' PostgreSQL server (postgres_cluster.h): a fresh database per test that
// answers and is dropped after it, a cluster that runs as the postgres user when the tests
// run as root, and nothing left behind when the process that started it ends, even killed.

#include "support/postgres_cluster.h"

#include <libpq-fe.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "unit/result_testing.h"

namespace handoff::testing {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Rows(const std::string& url, const std::string& sql) {
  Result<std::vector<std::string>> rows = PostgresQuery(url, sql);
  EXPECT_TRUE(rows.ok()) << rows.error().message;
  return rows.ok() ? std::move(rows).value() : std::vector<std::string>{};
}

bool ThrowawayCluster() {
  const char* given = std::getenv("HANDOFF_TEST_POSTGRES_URL");
  return given == nullptr || *given == '\0';
}

TEST(PostgresClusterTest, AFreshDatabaseAnswersAndIsEmpty) {
  HANDOFF_NEED_POSTGRES();
  std::unique_ptr<PostgresTestDatabase> db = ValueOf(PostgresTestDatabase::Create());
  ASSERT_NE(db, nullptr);
  EXPECT_TRUE(db->name().starts_with("handoff_test_")) << db->name();
  if (ThrowawayCluster()) {
    EXPECT_TRUE(db->url().starts_with("postgres://postgres@127.0.0.1:")) << db->url();
  }
  EXPECT_EQ(Rows(db->url(), "SELECT 1"), std::vector<std::string>{"1"});
  EXPECT_EQ(Rows(db->url(), "SELECT current_database()"), std::vector<std::string>{db->name()});
  EXPECT_EQ(Rows(db->url(), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
            std::vector<std::string>{"0"});
}

TEST(PostgresClusterTest, EachDatabaseIsItsOwnAndIsDroppedAfterItsTest) {
  HANDOFF_NEED_POSTGRES();
  std::unique_ptr<PostgresTestDatabase> one = ValueOf(PostgresTestDatabase::Create());
  std::unique_ptr<PostgresTestDatabase> two = ValueOf(PostgresTestDatabase::Create());
  ASSERT_TRUE(one && two);
  EXPECT_NE(one->name(), two->name());
  Rows(one->url(), "CREATE TABLE runs (id bigint); INSERT INTO runs VALUES (1), (2)");
  EXPECT_EQ(Rows(one->url(), "SELECT count(*) FROM runs"), std::vector<std::string>{"2"});
  EXPECT_FALSE(PostgresQuery(two->url(), "SELECT count(*) FROM runs").ok());

  const std::string name = one->name();
  const std::string exists = "SELECT count(*) FROM pg_database WHERE datname = '" + name + "'";
  EXPECT_EQ(Rows(PostgresServerUrl(), exists), std::vector<std::string>{"1"});
  // A connection the test left open does not keep it.
  PGconn* left_open = PQconnectdb(one->url().c_str());
  ASSERT_EQ(PQstatus(left_open), CONNECTION_OK) << PQerrorMessage(left_open);
  one.reset();
  PQfinish(left_open);
  EXPECT_EQ(Rows(PostgresServerUrl(), exists), std::vector<std::string>{"0"});
}

TEST(PostgresClusterTest, TheClusterBelongsToThePostgresUserWhenTestsRunAsRoot) {
  HANDOFF_NEED_POSTGRES();
  if (!ThrowawayCluster()) GTEST_SKIP() << "HANDOFF_TEST_POSTGRES_URL names the server";
  const std::vector<std::string> data = Rows(PostgresServerUrl(), "SHOW data_directory");
  ASSERT_EQ(data.size(), 1u);
  struct stat info {};
  ASSERT_EQ(::stat(data[0].c_str(), &info), 0) << data[0];
  // initdb refuses root: as root, the cluster is the postgres user's; else ours.
  if (::geteuid() == 0) {
    EXPECT_NE(info.st_uid, 0u) << data[0];
  } else {
    EXPECT_EQ(info.st_uid, ::geteuid()) << data[0];
  }
  // Its directory is a temporary one of its own, holding the Unix socket too.
  EXPECT_TRUE(fs::path(data[0]).parent_path().filename().string().starts_with("handoff-pg-"))
      << data[0];
}

// Not a test of its own: the child process the next test starts, which starts a cluster,
// prints its data directory and its postmaster's pid, and ends as HANDOFF_PG_CHILD says.
TEST(PostgresClusterTest, ChildThatStartsACluster) {
  const char* how = std::getenv("HANDOFF_PG_CHILD");
  if (how == nullptr) return;
  HANDOFF_NEED_POSTGRES();
  const std::vector<std::string> data = Rows(PostgresServerUrl(), "SHOW data_directory");
  ASSERT_EQ(data.size(), 1u);
  std::ifstream pid_file(fs::path(data[0]) / "postmaster.pid");
  std::string pid;
  std::getline(pid_file, pid);
  std::printf("DATA=%s\nPID=%s\n", data[0].c_str(), pid.c_str());
  std::fflush(stdout);
  if (std::string(how) == "kill") ::raise(SIGKILL);
  ADD_FAILURE() << "a failed test, on purpose";
}

// True if process `pid` is gone (or a zombie no one reaped: a container's pid 1 may not).
bool ProcessGone(const std::string& pid) {
  std::ifstream stat("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const std::size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

TEST(PostgresClusterTest, NothingIsLeftBehindWhenTheProcessFailsOrIsKilled) {
  HANDOFF_NEED_POSTGRES();
  if (!ThrowawayCluster()) GTEST_SKIP() << "HANDOFF_TEST_POSTGRES_URL names the server";
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  for (const std::string how : {"fail", "kill"}) {
    SCOPED_TRACE(how);
    const std::string command = "HANDOFF_PG_CHILD=" + how + " '" + self +
                                "' --gtest_filter=PostgresClusterTest.ChildThatStartsACluster "
                                "2>&1";
    std::FILE* child = ::popen(command.c_str(), "r");
    ASSERT_NE(child, nullptr);
    std::string output;
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, child)) > 0;) {
      output.append(buffer, n);
    }
    const int status = ::pclose(child);
    EXPECT_NE(status, 0) << output;
    const std::size_t data_at = output.find("DATA=");
    const std::size_t pid_at = output.find("PID=");
    ASSERT_TRUE(data_at != std::string::npos && pid_at != std::string::npos) << output;
    const std::string data = output.substr(data_at + 5, output.find('\n', data_at) - data_at - 5);
    const std::string pid = output.substr(pid_at + 4, output.find('\n', pid_at) - pid_at - 4);
    ASSERT_FALSE(pid.empty()) << output;
    const fs::path dir = fs::path(data).parent_path();
    // Killed, the reaper cleans up after the fact; ended normally, before the exit.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while ((fs::exists(dir) || !ProcessGone(pid)) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_FALSE(fs::exists(dir)) << dir;
    EXPECT_TRUE(ProcessGone(pid)) << "postmaster " << pid << " of " << dir;
  }
}

}  // namespace
}  // namespace handoff::testing
