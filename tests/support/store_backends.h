#pragma once

// The store backends the store contract suites run over (StoreContractTest,
// DeliveryStoreTest...): every backend opened through OpenStore with the test's clock, and
// a connection of the test's own to the database underneath, for what the contract does
// not show (how many rows a table has). The tables have the same names in every backend:
// runs, tests, attempts, run_events, schedules, deliveries, run_plans.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "base/result.h"
#include "store/store.h"
#include "support/postgres_cluster.h"
#include "support/temp_dir.h"

namespace handoff::testing {

// One backend of the store contract.
enum class StoreBackend {
  kSqliteFile,    // sqlite:<temporary directory>/handoff.db
  kSqliteMemory,  // sqlite::memory:
  kPostgres,      // a fresh database on the tests' PostgreSQL server (postgres_cluster.h)
};

// Returns the backend's name in test names: "SqliteFile", "SqliteMemory", "Postgres".
std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info);

// Prints the backend's name, so a failure says "where GetParam() = Postgres".
void PrintTo(StoreBackend backend, std::ostream* out);

// Runs the statements of `sql` on the SQLite database file at `path` (what a test of an
// upgrade does to make an older schema); returns SQLite's error, or "".
std::string ExecSqliteFile(const std::string& path, const std::string& sql);

// Returns every backend, for INSTANTIATE_TEST_SUITE_P.
inline auto EveryStoreBackend() {
  return ::testing::Values(StoreBackend::kSqliteFile, StoreBackend::kSqliteMemory,
                           StoreBackend::kPostgres);
}

// An empty database of one backend for one test, removed when this object is destroyed.
class StoreDatabase {
 public:
  // Makes one; for kPostgres the server must be there (PostgresUnavailable() is "").
  static Result<std::unique_ptr<StoreDatabase>> Create(StoreBackend backend);

  // The URL OpenStore opens it by.
  const std::string& url() const { return url_; }
  // Returns true if and only if Query can reach it (an in-memory SQLite database has no
  // other connection).
  bool Queryable() const { return backend_ != StoreBackend::kSqliteMemory; }
  // Runs `sql` on a connection of our own; the rows, each row's columns joined with '|'.
  Result<std::vector<std::string>> Query(const std::string& sql) const;

 private:
  explicit StoreDatabase(StoreBackend backend) : backend_(backend) {}

  StoreBackend backend_;
  std::unique_ptr<TempDir> dir_;                     // kSqliteFile
  std::unique_ptr<PostgresTestDatabase> postgres_;  // kPostgres
  std::string url_;
};

// A test of the store contract, run once per backend: SetUp makes the backend's database
// (skipping, or failing with HANDOFF_REQUIRE_POSTGRES=1, when there is no PostgreSQL) and
// opens `store_` on it with `now_` as its clock.
class StoreBackendTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override;
  // Closes the store before its database goes.
  void TearDown() override;

  // Rows `sql` returns through a connection of our own (see StoreDatabase::Query); a
  // failed query fails the test and returns none.
  std::vector<std::string> Query(const std::string& sql) const;
  // Rows of `table`, counted through a connection of our own; -1 after a failure.
  int CountRows(const std::string& table) const;
  // Returns true if and only if Query and CountRows can reach the database.
  bool Queryable() const { return database_ != nullptr && database_->Queryable(); }

  std::atomic<std::int64_t> now_{1'000'000};
  std::unique_ptr<StoreDatabase> database_;
  std::unique_ptr<store::Store> store_;
};

}  // namespace handoff::testing
