#include "support/store_backends.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <utility>

#include "store/open_store.h"

namespace handoff::testing {
namespace {

// Rows `sql` returns from the SQLite database file `path`, opened read-only.
Result<std::vector<std::string>> SqliteQuery(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::vector<std::string> rows;
  std::string error;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    error = sqlite3_errmsg(db);
  } else {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
      int step = SQLITE_ROW;
      while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        std::string row;
        for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
          if (i > 0) row += '|';
          const unsigned char* text = sqlite3_column_text(stmt, i);
          if (text != nullptr) row += reinterpret_cast<const char*>(text);
        }
        rows.push_back(std::move(row));
      }
      if (step != SQLITE_DONE) error = sqlite3_errmsg(db);
    } else {
      error = sqlite3_errmsg(db);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  if (!error.empty()) return Error{ErrorCode::kUnavailable, fmt::format("{}: {}", sql, error)};
  return rows;
}

}  // namespace

std::string ExecSqliteFile(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string error;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    error = sqlite3_errmsg(db);
  } else {
    char* message = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      error = message != nullptr ? message : "failed";
    }
    sqlite3_free(message);
  }
  sqlite3_close(db);
  return error;
}

std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  switch (info.param) {
    case StoreBackend::kSqliteFile:
      return "SqliteFile";
    case StoreBackend::kSqliteMemory:
      return "SqliteMemory";
    case StoreBackend::kPostgres:
      return "Postgres";
  }
  return "Unknown";
}

void PrintTo(StoreBackend backend, std::ostream* out) {
  *out << StoreBackendName({backend, 0});
}

Result<std::unique_ptr<StoreDatabase>> StoreDatabase::Create(StoreBackend backend) {
  std::unique_ptr<StoreDatabase> database(new StoreDatabase(backend));
  switch (backend) {
    case StoreBackend::kSqliteFile:
      database->dir_ = std::make_unique<TempDir>();
      database->url_ = "sqlite:" + (database->dir_->path() / "handoff.db").string();
      break;
    case StoreBackend::kSqliteMemory:
      database->url_ = "sqlite::memory:";
      break;
    case StoreBackend::kPostgres: {
      Result<std::unique_ptr<PostgresTestDatabase>> made = PostgresTestDatabase::Create();
      if (!made.ok()) return std::move(made).error();
      database->postgres_ = std::move(made).value();
      database->url_ = database->postgres_->url();
      break;
    }
  }
  return database;
}

Result<std::vector<std::string>> StoreDatabase::Query(const std::string& sql) const {
  switch (backend_) {
    case StoreBackend::kSqliteFile:
      return SqliteQuery((dir_->path() / "handoff.db").string(), sql);
    case StoreBackend::kPostgres:
      return PostgresQuery(url_, sql);
    case StoreBackend::kSqliteMemory:
      break;
  }
  return Error{ErrorCode::kUnsupported, "an in-memory SQLite database has no other connection"};
}

void StoreBackendTest::SetUp() {
  if (GetParam() == StoreBackend::kPostgres) HANDOFF_NEED_POSTGRES();
  Result<std::unique_ptr<StoreDatabase>> database = StoreDatabase::Create(GetParam());
  ASSERT_TRUE(database.ok()) << database.error().message;
  database_ = std::move(database).value();
  store::OpenOptions options;
  options.now_ns = [this] { return now_.load(); };
  Result<std::unique_ptr<store::Store>> opened = store::OpenStore(database_->url(), options);
  ASSERT_TRUE(opened.ok()) << "OpenStore(\"" << database_->url() << "\"): ("
                           << ErrorCodeName(opened.error().code) << ") "
                           << opened.error().message;
  store_ = std::move(opened).value();
}

void StoreBackendTest::TearDown() {
  store_.reset();
  database_.reset();
}

std::vector<std::string> StoreBackendTest::Query(const std::string& sql) const {
  if (database_ == nullptr) {
    ADD_FAILURE() << "no database to query";
    return {};
  }
  Result<std::vector<std::string>> rows = database_->Query(sql);
  if (!rows.ok()) {
    ADD_FAILURE() << rows.error().message;
    return {};
  }
  return std::move(rows).value();
}

int StoreBackendTest::CountRows(const std::string& table) const {
  const std::vector<std::string> rows = Query("SELECT count(*) FROM " + table);
  return rows.size() == 1 ? std::stoi(rows[0]) : -1;
}

}  // namespace handoff::testing
