#include "store/store_migrate.h"

#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store/open_store.h"
#include "store/output_lines.h"
#include "store/pg_db.h"
#include "store/pg_store.h"
#include "store/pg_url.h"
#include "store/sqlite_store.h"
#include "store/value_encoding.h"

namespace handoff::store {
namespace {

// The tables copied, parents first (their foreign keys point up this list).
constexpr const char* kTables[] = {"runs",       "run_plans",  "tests",
                                   "attempts",   "run_events", "schedules",
                                   "deliveries", "attachments", "ingested_suites",
                                   "hunts"};

// Identity columns whose sequences must continue after the copied rows.
constexpr std::pair<const char*, const char*> kIdentities[] = {
    {"runs", "id"}, {"hunts", "id"}, {"tests", "position"}, {"deliveries", "seq"}, {"attachments", "seq"}};

// Rows sent per pipeline (a round trip each).
constexpr std::size_t kRowsPerPipeline = 500;

struct PgColumn {
  std::string name;
  std::string type;  // bigint, integer, boolean, bytea, text
  bool identity = false;
};

struct CloseSqlite {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqliteHandle = std::unique_ptr<sqlite3, CloseSqlite>;

struct FinalizeStmt {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using SqliteStmt = std::unique_ptr<sqlite3_stmt, FinalizeStmt>;

Error Unavailable(std::string message) { return Error{ErrorCode::kUnavailable, std::move(message)}; }

Result<SqliteStmt> Prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    return Unavailable(fmt::format("cannot read the SQLite store ({}): {}", sql, sqlite3_errmsg(db)));
  }
  return SqliteStmt(stmt);
}

std::string_view ColumnBytes(sqlite3_stmt* stmt, int column) {
  const void* data = sqlite3_column_blob(stmt, column);
  const int size = sqlite3_column_bytes(stmt, column);
  return data == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(data), size);
}

// The source table's column names.
Result<std::set<std::string>> SqliteColumns(sqlite3* db, const std::string& table) {
  Result<SqliteStmt> stmt = Prepare(db, fmt::format("PRAGMA table_info({})", table));
  if (!stmt.ok()) return std::move(stmt).error();
  std::set<std::string> names;
  while (sqlite3_step(stmt->get()) == SQLITE_ROW) {
    names.emplace(reinterpret_cast<const char*>(sqlite3_column_text(stmt->get(), 1)));
  }
  return names;
}

Result<std::vector<PgColumn>> PgColumns(PgDb& db, const std::string& table) {
  PgResult columns = db.Exec(
      "SELECT column_name::text, data_type::text, is_identity::text "
      "FROM information_schema.columns WHERE table_schema = current_schema() "
      "AND table_name = $1 ORDER BY ordinal_position",
      PgParams().Add(table));
  if (!columns.ok()) return Unavailable("cannot read the PostgreSQL schema: " + columns.error());
  std::vector<PgColumn> out;
  for (int i = 0; i < columns.rows(); ++i) {
    out.push_back({columns.Text(i, 0), columns.Text(i, 1), columns.Text(i, 2) == "YES"});
  }
  if (out.empty()) return Unavailable(fmt::format("the PostgreSQL store has no table {}", table));
  return out;
}

Result<std::int64_t> SqliteCount(sqlite3* db, const std::string& table) {
  Result<SqliteStmt> stmt = Prepare(db, fmt::format("SELECT count(*) FROM {}", table));
  if (!stmt.ok()) return std::move(stmt).error();
  if (sqlite3_step(stmt->get()) != SQLITE_ROW) {
    return Unavailable(fmt::format("cannot count {}: {}", table, sqlite3_errmsg(db)));
  }
  return sqlite3_column_int64(stmt->get(), 0);
}

Result<std::int64_t> PgCount(PgDb& db, const std::string& table) {
  PgResult count = db.Exec(fmt::format("SELECT count(*) FROM {}", table));
  if (!count.ok()) return Unavailable(fmt::format("cannot count {}: {}", table, count.error()));
  return count.Int(0, 0);
}

// An attempt SQLite keeps as text (schema 3 and older) as typed lines, as its reads give it.
std::string LinesOfTextOutput(sqlite3_stmt* stmt, int output, int failures, int skip_reason,
                              int started_at) {
  const Result<std::vector<Failure>> decoded = DecodeFailures(ColumnBytes(stmt, failures));
  const std::int64_t base = sqlite3_column_int64(stmt, started_at);
  return EncodeOutputLines(
      LinesFromText(ColumnBytes(stmt, output), decoded.ok() ? *decoded : std::vector<Failure>{},
                    ColumnBytes(stmt, skip_reason), base),
      base);
}

// Copies one table; returns the rows copied.
Result<std::int64_t> CopyTable(sqlite3* source, PgDb& target, const std::string& table) {
  Result<std::set<std::string>> have = SqliteColumns(source, table);
  if (!have.ok()) return std::move(have).error();
  Result<std::vector<PgColumn>> columns = PgColumns(target, table);
  if (!columns.ok()) return std::move(columns).error();

  // What each target column reads from the source: a column of the same name, SQLite's
  // rowid for a delivery's or an attachment's seq, and, for an attempt's lines, the text
  // output too.
  std::vector<std::string> selected;
  std::vector<PgColumn> copied;
  bool identity = false;
  int lines_column = -1;
  for (const PgColumn& column : *columns) {
    std::string expression;
    if (have->count(column.name) != 0) {
      expression = column.name;
    } else if ((table == "deliveries" || table == "attachments") && column.name == "seq") {
      expression = "rowid";
    } else {
      continue;  // PostgreSQL's default applies
    }
    if (table == "attempts" && column.name == "lines") lines_column = static_cast<int>(selected.size());
    selected.push_back(expression);
    copied.push_back(column);
    identity = identity || column.identity;
  }
  const bool converts_output = lines_column >= 0 && have->count("output") != 0;
  int output = -1, failures = -1, skip_reason = -1, started_at = -1;
  if (converts_output) {
    const auto extra = [&](const char* name) {
      selected.emplace_back(name);
      return static_cast<int>(selected.size()) - 1;
    };
    output = extra("output");
    failures = extra("failures");
    skip_reason = extra("skip_reason");
    started_at = extra("started_at");
  }

  std::string names, placeholders;
  for (std::size_t i = 0; i < copied.size(); ++i) {
    names += (i ? ", " : "") + copied[i].name;
    placeholders += fmt::format("{}${}", i ? ", " : "", i + 1);
  }
  const std::string insert =
      fmt::format("INSERT INTO {} ({}) {}VALUES ({})", table, names,
                  identity ? "OVERRIDING SYSTEM VALUE " : "", placeholders);
  std::string select = "SELECT ";
  for (std::size_t i = 0; i < selected.size(); ++i) select += (i ? ", " : "") + selected[i];
  select += " FROM " + table;
  // Rows in their order: SQLite's rowid (a test's position, a delivery's order).
  if (table != "run_events" && table != "schedules" && table != "ingested_suites") {
    select += " ORDER BY rowid";
  }
  Result<SqliteStmt> rows = Prepare(source, select);
  if (!rows.ok()) return std::move(rows).error();

  std::int64_t count = 0;
  std::vector<PgCall> calls;
  const auto flush = [&]() -> Result<void> {
    if (calls.empty()) return {};
    if (!target.Pipeline(calls)) {
      return Unavailable(fmt::format("cannot write table {} of the PostgreSQL store: {}", table,
                                     target.ErrorMessage()));
    }
    calls.clear();
    return {};
  };
  int step;
  while ((step = sqlite3_step(rows->get())) == SQLITE_ROW) {
    sqlite3_stmt* row = rows->get();
    PgParams params;
    for (std::size_t i = 0; i < copied.size(); ++i) {
      const int c = static_cast<int>(i);
      const std::string& type = copied[i].type;
      if (converts_output && c == lines_column && sqlite3_column_type(row, c) == SQLITE_NULL &&
          sqlite3_column_type(row, output) != SQLITE_NULL) {
        params.AddBytes(LinesOfTextOutput(row, output, failures, skip_reason, started_at));
      } else if (sqlite3_column_type(row, c) == SQLITE_NULL) {
        if (type == "boolean") params.AddNullBool();
        else if (type == "bytea") params.AddNullBytes();
        else if (type == "text") params.AddNullText();
        else params.AddNullInt();
      } else if (type == "boolean") {
        params.Add(sqlite3_column_int64(row, c) != 0);
      } else if (type == "bigint" || type == "integer" || type == "smallint") {
        params.Add(static_cast<std::int64_t>(sqlite3_column_int64(row, c)));
      } else if (type == "bytea") {
        params.AddBytes(ColumnBytes(row, c));
      } else {
        params.Add(ColumnBytes(row, c));
      }
    }
    calls.push_back(PgCall{insert, std::move(params)});
    ++count;
    if (calls.size() >= kRowsPerPipeline) {
      if (Result<void> sent = flush(); !sent.ok()) return std::move(sent).error();
    }
  }
  if (step != SQLITE_DONE) {
    return Unavailable(fmt::format("cannot read table {} of the SQLite store: {}", table,
                                   sqlite3_errmsg(source)));
  }
  if (Result<void> sent = flush(); !sent.ok()) return std::move(sent).error();
  return count;
}

}  // namespace

Result<MigrationReport> MigrateSqliteToPostgres(
    const std::string& from, const std::string& to,
    const std::function<void(const TableCopied&)>& progress) {
  const auto started = std::chrono::steady_clock::now();
  constexpr std::string_view kSqlite = "sqlite:";
  if (!from.starts_with(kSqlite) || from.size() == kSqlite.size() || from == "sqlite::memory:") {
    return Error{ErrorCode::kInvalid,
                 fmt::format("--from: \"{}\" is not a SQLite store: use sqlite:PATH", from)};
  }
  if (!IsPostgresUrl(to)) {
    return Error{ErrorCode::kInvalid,
                 fmt::format("--to: \"{}\" is not a PostgreSQL database: use postgres://USER@HOST:PORT/DB",
                             ShownStoreUrl(to))};
  }
  const std::string path(from.substr(kSqlite.size()));
  if (::access(path.c_str(), R_OK) != 0) {
    return Error{ErrorCode::kInvalid, fmt::format("--from: cannot read \"{}\"", path)};
  }
  // Neither store may be served while it is copied: a run finishing meanwhile would be lost.
  Result<std::unique_ptr<StoreOwnership>> source_owned = AcquireStoreOwnership(from);
  if (!source_owned.ok()) return Error{source_owned.error().code, "--from: " + source_owned.error().message};
  Result<std::unique_ptr<StoreOwnership>> target_owned = AcquireStoreOwnership(to);
  if (!target_owned.ok()) return Error{target_owned.error().code, "--to: " + target_owned.error().message};
  // Both schemas up to date: SQLite's migrated as a server of this version would, and
  // PostgreSQL's created.
  {
    Result<std::unique_ptr<SqliteStore>> sqlite = SqliteStore::Open(from);
    if (!sqlite.ok()) return Error{sqlite.error().code, "--from: " + sqlite.error().message};
    Result<std::unique_ptr<PgStore>> pg = PgStore::Open(to);
    if (!pg.ok()) return Error{pg.error().code, "--to: " + pg.error().message};
  }

  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    SqliteHandle close(raw);
    return Unavailable(fmt::format("--from: cannot open \"{}\": {}", path, raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  SqliteHandle source(raw);
  Result<std::unique_ptr<PgDb>> connected = PgDb::Connect(to, ShownStoreUrl(to));
  if (!connected.ok()) return Error{connected.error().code, "--to: " + connected.error().message};
  PgDb& target = **connected;

  // One read transaction on the source, one write transaction on the target: the copy is
  // a snapshot, committed whole or not at all.
  if (sqlite3_exec(source.get(), "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return Unavailable(fmt::format("--from: {}", sqlite3_errmsg(source.get())));
  }
  if (PgResult begun = target.ExecScript("BEGIN"); !begun.ok()) {
    return Unavailable("--to: cannot begin a transaction: " + begun.error());
  }
  for (const char* table : {"runs", "schedules", "deliveries", "ingested_suites", "hunts"}) {
    Result<std::int64_t> held = PgCount(target, table);
    if (!held.ok()) return std::move(held).error();
    if (*held != 0) {
      target.ExecScript("ROLLBACK");
      return Error{ErrorCode::kConflict,
                   fmt::format("--to: {} already holds {} rows in {}: migrate into an empty "
                               "database (nothing was copied)",
                               ShownStoreUrl(to), *held, table)};
    }
  }
  MigrationReport report;
  for (const char* table : kTables) {
    Result<std::int64_t> copied = CopyTable(source.get(), target, table);
    if (!copied.ok()) {
      target.ExecScript("ROLLBACK");
      return std::move(copied).error();
    }
    Result<std::int64_t> in_source = SqliteCount(source.get(), table);
    Result<std::int64_t> in_target = PgCount(target, table);
    if (!in_source.ok() || !in_target.ok()) {
      target.ExecScript("ROLLBACK");
      return !in_source.ok() ? std::move(in_source).error() : std::move(in_target).error();
    }
    if (*in_source != *copied || *in_target != *copied) {
      target.ExecScript("ROLLBACK");
      return Error{ErrorCode::kCorrupt,
                   fmt::format("table {}: {} rows in the SQLite store, {} copied, {} in "
                               "PostgreSQL: nothing was committed",
                               table, *in_source, *copied, *in_target)};
    }
    report.tables.push_back({table, *copied});
    if (progress) progress(report.tables.back());
  }
  for (const auto& [table, column] : kIdentities) {
    // The next id continues after the copied ones (runs are never renumbered).
    PgResult moved = target.ExecScript(fmt::format(
        "SELECT setval(pg_get_serial_sequence('{0}', '{1}'), max({1})) FROM {0} "
        "HAVING max({1}) IS NOT NULL",
        table, column));
    if (!moved.ok()) {
      target.ExecScript("ROLLBACK");
      return Unavailable(fmt::format("--to: cannot continue the ids of {}: {}", table, moved.error()));
    }
  }
  if (PgResult committed = target.ExecScript("COMMIT"); !committed.ok()) {
    return Unavailable("--to: the copy did not commit: " + committed.error());
  }
  sqlite3_exec(source.get(), "COMMIT", nullptr, nullptr, nullptr);
  report.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
  return report;
}

}  // namespace handoff::store
