#pragma once

// The libpq plumbing of the PostgreSQL store: a connection with its prepared statements
// (PgDb), the parameters of one statement (PgParams, always sent in binary with their
// lengths, so that any bytes round-trip) and its result (PgResult, read in binary). libpq's
// own header stays in pg_db.cc. Statement failures are logged through the store log
// (store/store_log.h) as they happen.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "base/result.h"

struct pg_conn;
struct pg_result;

namespace handoff::store {

// One array parameter (bigint[], boolean[], text[] or bytea[]: one column of a multi-row
// statement's `unnest`), built element by element in PostgreSQL's binary array format, so
// that bytea elements stay any bytes and nothing needs escaping.
class PgArray {
 public:
  enum class Of : std::uint8_t { kBigint, kBoolean, kText, kBytea };
  explicit PgArray(Of element);

  // Appends an element; each must be of the array's type (asserted). Text must be valid
  // UTF-8 without NUL bytes, or the statement fails.
  PgArray& Add(std::int64_t value);
  PgArray& Add(int value) { return Add(static_cast<std::int64_t>(value)); }
  PgArray& Add(bool value);
  PgArray& AddText(std::string_view text);
  PgArray& AddBytes(std::string_view bytes);
  PgArray& AddNull();

  Of element() const { return element_; }
  // The array's PostgreSQL type.
  unsigned type() const;
  // The encoded array; the builder is left empty.
  std::string Take();

 private:
  void AppendLength(std::uint32_t length);

  Of element_;
  std::string bytes_;  // the header (counts patched by Take) and the elements so far
  std::uint32_t count_ = 0;
  bool has_null_ = false;
};

// The parameters of one statement, in order ($1, $2, ...). Each carries its PostgreSQL type,
// so a statement prepared with them needs no casts.
class PgParams {
 public:
  PgParams& Add(std::int64_t value);  // bigint
  PgParams& Add(int value) { return Add(static_cast<std::int64_t>(value)); }
  PgParams& Add(bool value);          // boolean
  // text: must be valid UTF-8 without NUL bytes, or the statement fails.
  PgParams& Add(std::string_view text);
  PgParams& Add(const std::string& text) { return Add(std::string_view(text)); }
  PgParams& Add(const char* text) { return Add(std::string_view(text)); }
  // bytea: any bytes.
  PgParams& AddBytes(std::string_view bytes);
  // An array, moved in (PgArray::Take).
  PgParams& Add(PgArray array);
  // NULL of the type the matching Add would give.
  PgParams& AddNullInt();
  PgParams& AddNullBool();
  PgParams& AddNullText();
  PgParams& AddNullBytes();
  template <typename T>
  PgParams& Add(const std::optional<T>& value);

  int size() const { return static_cast<int>(types_.size()); }
  const std::vector<unsigned>& types() const { return types_; }
  // The values as libpq takes them (nullptr for NULL), their lengths and formats (binary).
  std::vector<const char*> Values() const;
  std::vector<int> Lengths() const;

 private:
  PgParams& Push(unsigned type, std::string bytes, bool null);

  std::vector<unsigned> types_;
  std::vector<std::string> values_;
  std::vector<char> nulls_;
};

template <typename T>
PgParams& PgParams::Add(const std::optional<T>& value) {
  if (value) return Add(*value);
  if constexpr (std::is_same_v<T, bool>) {
    return AddNullBool();
  } else if constexpr (std::is_integral_v<T>) {
    return AddNullInt();
  } else {
    return AddNullText();
  }
}

// The result of one statement (rows in binary), or its failure.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* result, std::string error = {});
  PgResult(PgResult&&) noexcept = default;
  PgResult& operator=(PgResult&&) noexcept = default;

  // False when the statement failed (error() says why; it was logged).
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

  int rows() const;
  int columns() const;
  // Rows changed by an INSERT, UPDATE or DELETE.
  std::int64_t Affected() const;
  bool IsNull(int row, int column) const;
  // A bigint, integer, smallint or boolean column; 0 for NULL.
  std::int64_t Int(int row, int column) const;
  bool Bool(int row, int column) const { return Int(row, column) != 0; }
  // A text or bytea column's bytes, valid while the result lives; empty for NULL.
  std::string_view View(int row, int column) const;
  std::string Text(int row, int column) const { return std::string(View(row, column)); }

 private:
  struct Clear {
    void operator()(pg_result* result) const;
  };
  std::unique_ptr<pg_result, Clear> result_;
  bool ok_ = false;
  std::string error_;
};

// One statement of a pipeline (PgDb::Pipeline).
struct PgCall {
  std::string_view sql;  // must outlive the pipeline's run
  PgParams params;
};

// One connection to the database and its prepared statements. Used by one thread at a time.
class PgDb {
 public:
  // Connects to `url` (a libpq connection URI: PG* environment variables and ~/.pgpass
  // apply). `shown_url` is the URL as messages may show it (PostgresUrlWithoutPassword).
  // kUnavailable with libpq's message when the server cannot be reached or refuses.
  // With `prepared` false, no statement is prepared by name: each is sent with its text
  // (unnamed), as PgBouncer before 1.21 needs in transaction pooling mode, where the next
  // transaction may run on another server connection that never saw the statement.
  static Result<std::unique_ptr<PgDb>> Connect(const std::string& url,
                                               const std::string& shown_url,
                                               bool prepared = true);

  ~PgDb();
  PgDb(const PgDb&) = delete;
  PgDb& operator=(const PgDb&) = delete;

  // Makes sure the connection is up, resetting it (PQreset) if it was lost: false (logged)
  // if it cannot be re-established. Prepared statements are prepared again after a reset.
  bool EnsureConnected();

  // Runs `sql` with `params` as a statement prepared on this connection on first use. A
  // failure is logged (with `sql`) and returned as a result that is not ok().
  // A statement run outside a transaction that finds the connection lost runs once more on
  // a new one (so a restarted server costs no read): callers run only statements that may
  // run twice there (reads, BEGIN, idempotent updates).
  PgResult Exec(std::string_view sql, const PgParams& params = {});

  // Runs `sql` (one or more statements without parameters: transaction control, DDL) with
  // the simple query protocol; the last statement's result. Failures are not logged: the
  // caller says what failed. Retried as Exec is.
  PgResult ExecScript(std::string_view sql);

  // Whether Pipeline logs the failure of a statement.
  enum class Failures : std::uint8_t { kLogged, kQuiet };

  // Runs `calls` in order in pipeline mode (a round trip per few hundred statements instead
  // of one each) and returns how many of them succeeded before the first failure (logged,
  // unless `failures` is kQuiet): calls.size() when all did. Those after a failure did not
  // run. Meant inside a transaction: the caller rolls the failure back.
  std::size_t Pipeline(const std::vector<PgCall>& calls, Failures failures = Failures::kLogged);

  // True while a transaction is open on the connection (failed or not).
  bool InTransaction() const;
  // True while the open transaction has failed and only a rollback is accepted.
  bool TransactionFailed() const;
  // False once the connection is lost.
  bool Connected() const;
  // libpq's last error on this connection.
  std::string ErrorMessage() const;
  // The URL as messages show it.
  const std::string& shown_url() const { return shown_url_; }

 private:
  PgDb(pg_conn* conn, std::string shown_url);
  // The name of `sql` prepared with `params`' types, preparing it if needed; nullptr if it
  // does not prepare (prepare_error_ says why).
  const std::string* Prepared(std::string_view sql, const PgParams& params);
  PgResult ExecOnce(std::string_view sql, const PgParams& params);
  // Whether a statement that failed should run again: the connection was lost while
  // nothing was open (`was_idle`), and it is back.
  bool ShouldRetry(bool was_idle);
  // Reads the results of calls [begin, end) and the sync after them; `*succeeded` counts
  // the calls that succeeded before the first failure (logged). False if the connection
  // can no longer be read.
  bool ReadPipelineResults(const std::vector<PgCall>& calls, std::size_t begin,
                           std::size_t end, Failures failures, std::size_t* succeeded);

  pg_conn* conn_;
  std::string shown_url_;
  std::string prepare_error_;
  bool prepared_ = true;  // statements are prepared by name (Connect's `prepared`)
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::string, SqlHash, std::equal_to<>> statements_;
};

}  // namespace handoff::store
