#include "store/pg_db.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <cstring>

#include "dynlib/lazy_library.h"
#include "store/store_log.h"

namespace handoff::store {
namespace {

// PostgreSQL's type OIDs (catalog/pg_type.h, which only the server's headers have).
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kBoolArrayOid = 1000;
constexpr Oid kByteaArrayOid = 1001;
constexpr Oid kTextArrayOid = 1009;
constexpr Oid kInt8ArrayOid = 1016;

// The binary array header (array_recv): dimensions, has-null flag, element type, then the
// one dimension's length and lower bound.
constexpr std::size_t kArrayHeader = 20;

// Statements sent per synchronisation of a pipeline: their answers (a few dozen bytes each)
// stay far below what the server may buffer while we are still sending, so neither side
// waits on the other.
constexpr std::size_t kPipelineChunk = 256;

// libpq's messages end with a newline.
std::string Trimmed(const char* message) {
  std::string text = message != nullptr ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string BigEndian(std::uint64_t value, int bytes) {
  std::string out(static_cast<std::size_t>(bytes), '\0');
  for (int i = bytes - 1; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return out;
}

std::int64_t FromBigEndian(const char* data, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<unsigned char>(data[i]);
  // Sign-extend a narrower integer.
  if (bytes < 8 && bytes > 0 && (value >> (bytes * 8 - 1)) != 0) {
    value |= ~std::uint64_t{0} << (bytes * 8);
  }
  return static_cast<std::int64_t>(value);
}

// Notices ("relation already exists, skipping") are not errors; libpq would print them.
void IgnoreNotice(void*, const char*) {}

bool Succeeded(const PGresult* result) {
  const ExecStatusType status = PQresultStatus(result);
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

std::string ResultError(const PGresult* result, pg_conn* conn) {
  std::string error = Trimmed(result != nullptr ? PQresultErrorMessage(result) : nullptr);
  if (error.empty()) error = Trimmed(PQerrorMessage(conn));
  return error.empty() ? "unknown error" : error;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// PgArray

PgArray::PgArray(Of element) : element_(element), bytes_(kArrayHeader, '\0') {}

unsigned PgArray::type() const {
  switch (element_) {
    case Of::kBigint:
      return kInt8ArrayOid;
    case Of::kBoolean:
      return kBoolArrayOid;
    case Of::kText:
      return kTextArrayOid;
    case Of::kBytea:
      return kByteaArrayOid;
  }
  return kByteaArrayOid;
}

void PgArray::AppendLength(std::uint32_t length) { bytes_ += BigEndian(length, 4); }

PgArray& PgArray::Add(std::int64_t value) {
  assert(element_ == Of::kBigint);
  AppendLength(8);
  bytes_ += BigEndian(static_cast<std::uint64_t>(value), 8);
  ++count_;
  return *this;
}

PgArray& PgArray::Add(bool value) {
  assert(element_ == Of::kBoolean);
  AppendLength(1);
  bytes_ += static_cast<char>(value ? 1 : 0);
  ++count_;
  return *this;
}

PgArray& PgArray::AddText(std::string_view text) {
  assert(element_ == Of::kText);
  AppendLength(static_cast<std::uint32_t>(text.size()));
  bytes_ += text;
  ++count_;
  return *this;
}

PgArray& PgArray::AddBytes(std::string_view bytes) {
  assert(element_ == Of::kBytea);
  AppendLength(static_cast<std::uint32_t>(bytes.size()));
  bytes_ += bytes;
  ++count_;
  return *this;
}

PgArray& PgArray::AddNull() {
  AppendLength(0xffffffffu);  // -1: NULL
  has_null_ = true;
  ++count_;
  return *this;
}

std::string PgArray::Take() {
  Oid element = kByteaOid;
  switch (element_) {
    case Of::kBigint:
      element = kInt8Oid;
      break;
    case Of::kBoolean:
      element = kBoolOid;
      break;
    case Of::kText:
      element = kTextOid;
      break;
    case Of::kBytea:
      element = kByteaOid;
      break;
  }
  // An empty array has no dimension at all.
  const std::string header = count_ == 0
      ? BigEndian(0, 4) + BigEndian(0, 4) + BigEndian(element, 4)
      : BigEndian(1, 4) + BigEndian(has_null_ ? 1 : 0, 4) + BigEndian(element, 4) +
            BigEndian(count_, 4) + BigEndian(1, 4);
  std::string out = std::move(bytes_);
  out.replace(0, kArrayHeader, header);
  bytes_.assign(kArrayHeader, '\0');
  count_ = 0;
  has_null_ = false;
  return out;
}

// ---------------------------------------------------------------------------------------
// PgParams

PgParams& PgParams::Push(unsigned type, std::string bytes, bool null) {
  types_.push_back(type);
  values_.push_back(std::move(bytes));
  nulls_.push_back(null ? 1 : 0);
  return *this;
}

PgParams& PgParams::Add(std::int64_t value) {
  return Push(kInt8Oid, BigEndian(static_cast<std::uint64_t>(value), 8), false);
}
PgParams& PgParams::Add(bool value) { return Push(kBoolOid, std::string(1, value ? 1 : 0), false); }
PgParams& PgParams::Add(std::string_view text) { return Push(kTextOid, std::string(text), false); }
PgParams& PgParams::AddBytes(std::string_view bytes) {
  return Push(kByteaOid, std::string(bytes), false);
}
PgParams& PgParams::Add(PgArray array) {
  const unsigned type = array.type();
  return Push(type, array.Take(), false);
}
PgParams& PgParams::AddNullInt() { return Push(kInt8Oid, {}, true); }
PgParams& PgParams::AddNullBool() { return Push(kBoolOid, {}, true); }
PgParams& PgParams::AddNullText() { return Push(kTextOid, {}, true); }
PgParams& PgParams::AddNullBytes() { return Push(kByteaOid, {}, true); }

std::vector<const char*> PgParams::Values() const {
  std::vector<const char*> values(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) {
    values[i] = nulls_[i] ? nullptr : values_[i].data();
  }
  return values;
}

std::vector<int> PgParams::Lengths() const {
  std::vector<int> lengths(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) {
    lengths[i] = static_cast<int>(values_[i].size());
  }
  return lengths;
}

// ---------------------------------------------------------------------------------------
// PgResult

void PgResult::Clear::operator()(pg_result* result) const { PQclear(result); }

PgResult::PgResult(pg_result* result, std::string error)
    : result_(result), ok_(result != nullptr && Succeeded(result) && error.empty()),
      error_(std::move(error)) {}

int PgResult::rows() const { return ok_ ? PQntuples(result_.get()) : 0; }
int PgResult::columns() const { return ok_ ? PQnfields(result_.get()) : 0; }

std::int64_t PgResult::Affected() const {
  if (!ok_) return 0;
  const char* n = PQcmdTuples(result_.get());
  return n != nullptr && *n != '\0' ? std::strtoll(n, nullptr, 10) : 0;
}

bool PgResult::IsNull(int row, int column) const {
  return PQgetisnull(result_.get(), row, column) != 0;
}

std::int64_t PgResult::Int(int row, int column) const {
  if (IsNull(row, column)) return 0;
  const char* data = PQgetvalue(result_.get(), row, column);
  if (PQfformat(result_.get(), column) == 0) {  // text (a script's result)
    if (PQftype(result_.get(), column) == kBoolOid) return data[0] == 't' ? 1 : 0;
    return std::strtoll(data, nullptr, 10);
  }
  const int length = PQgetlength(result_.get(), row, column);
  switch (PQftype(result_.get(), column)) {
    case kInt8Oid:
    case kInt4Oid:
    case kInt2Oid:
    case kBoolOid:
      return FromBigEndian(data, std::min(length, 8));
    default:
      LogStoreError("reading a number",
                    fmt::format("column {} has type {}, not an integer", column,
                                PQftype(result_.get(), column)));
      return 0;
  }
}

std::string_view PgResult::View(int row, int column) const {
  if (IsNull(row, column)) return {};
  return std::string_view(PQgetvalue(result_.get(), row, column),
                          static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

// ---------------------------------------------------------------------------------------
// PgDb

Result<std::unique_ptr<PgDb>> PgDb::Connect(const std::string& url, const std::string& shown_url,
                                            bool prepared) {
  // Defaults first: the URL's own parameters (expanded from "dbname") override them, and the
  // PG* environment variables and ~/.pgpass fill what neither sets. Keepalives notice a
  // server that vanished in under a minute instead of hours, so that a write fails and the
  // server reports itself unready rather than hang.
  // libpq is opened here, on the first connection (dynlib/lazy_library.h).
  if (std::string missing = dynlib::Libpq().Load(); !missing.empty()) {
    return Error{ErrorCode::kUnsupported,
                 fmt::format("cannot connect to database \"{}\": {}", shown_url, missing)};
  }
  std::vector<const char*> keywords = {"fallback_application_name", "keepalives_idle",
                                       "keepalives_interval", "keepalives_count"};
  std::vector<const char*> values = {"handoff", "30", "10", "3"};
  if (std::getenv("PGCONNECT_TIMEOUT") == nullptr) {
    keywords.push_back("connect_timeout");
    values.push_back("10");
  }
  keywords.push_back("dbname");
  values.push_back(url.c_str());
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1);
  if (conn == nullptr) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("cannot connect to database \"{}\": out of memory", shown_url)};
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string error = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return Error{ErrorCode::kUnavailable,
                 fmt::format("cannot connect to database \"{}\": {}", shown_url, error)};
  }
  PQsetNoticeProcessor(conn, &IgnoreNotice, nullptr);
  auto db = std::unique_ptr<PgDb>(new PgDb(conn, shown_url));
  db->prepared_ = prepared;
  return db;
}

PgDb::PgDb(pg_conn* conn, std::string shown_url) : conn_(conn), shown_url_(std::move(shown_url)) {}

PgDb::~PgDb() { PQfinish(conn_); }

bool PgDb::EnsureConnected() {
  if (PQstatus(conn_) == CONNECTION_OK && PQpipelineStatus(conn_) == PQ_PIPELINE_OFF) return true;
  statements_.clear();  // a new session has none of them
  PQreset(conn_);
  if (PQstatus(conn_) == CONNECTION_OK) return true;
  LogStoreError(fmt::format("connection to database \"{}\"", shown_url_),
                Trimmed(PQerrorMessage(conn_)));
  return false;
}

bool PgDb::Connected() const { return PQstatus(conn_) == CONNECTION_OK; }

bool PgDb::InTransaction() const {
  const PGTransactionStatusType status = PQtransactionStatus(conn_);
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE;
}

bool PgDb::TransactionFailed() const { return PQtransactionStatus(conn_) == PQTRANS_INERROR; }

std::string PgDb::ErrorMessage() const { return Trimmed(PQerrorMessage(conn_)); }

const std::string* PgDb::Prepared(std::string_view sql, const PgParams& params) {
  if (auto it = statements_.find(sql); it != statements_.end()) return &it->second;
  std::string name = fmt::format("handoff_{}", statements_.size() + 1);
  const std::string text(sql);
  PGresult* result = PQprepare(conn_, name.c_str(), text.c_str(), params.size(),
                               params.types().data());
  const bool ok = result != nullptr && Succeeded(result);
  if (!ok) prepare_error_ = ResultError(result, conn_);
  PQclear(result);
  if (!ok) return nullptr;
  return &statements_.emplace(text, std::move(name)).first->second;
}

bool PgDb::ShouldRetry(bool was_idle) {
  // Nothing was open that a new session would lose: the statement either never ran or (an
  // autocommitted one) ran whole, and every statement the store runs outside a transaction
  // may run twice (reads, BEGIN, the lease's renewal and release).
  return was_idle && PQstatus(conn_) == CONNECTION_BAD && EnsureConnected();
}

PgResult PgDb::ExecOnce(std::string_view sql, const PgParams& params) {
  if (!prepared_) {
    const std::string text(sql);
    const std::vector<const char*> values = params.Values();
    const std::vector<int> lengths = params.Lengths();
    const std::vector<int> formats(values.size(), 1);
    PGresult* result = PQexecParams(conn_, text.c_str(), params.size(), params.types().data(),
                                    values.data(), lengths.data(), formats.data(), 1);
    if (result == nullptr || !Succeeded(result)) {
      return PgResult(result, ResultError(result, conn_));
    }
    return PgResult(result);
  }
  const std::string* name = Prepared(sql, params);
  if (name == nullptr) return PgResult(nullptr, prepare_error_);
  const std::vector<const char*> values = params.Values();
  const std::vector<int> lengths = params.Lengths();
  const std::vector<int> formats(values.size(), 1);
  PGresult* result = PQexecPrepared(conn_, name->c_str(), params.size(), values.data(),
                                    lengths.data(), formats.data(), /*resultFormat=*/1);
  if (result == nullptr || !Succeeded(result)) return PgResult(result, ResultError(result, conn_));
  return PgResult(result);
}

PgResult PgDb::Exec(std::string_view sql, const PgParams& params) {
  const bool was_idle = PQtransactionStatus(conn_) == PQTRANS_IDLE;
  PgResult result = ExecOnce(sql, params);
  if (!result.ok() && ShouldRetry(was_idle)) result = ExecOnce(sql, params);
  if (!result.ok()) LogStoreError(sql, result.error());
  return result;
}

PgResult PgDb::ExecScript(std::string_view sql) {
  const bool was_idle = PQtransactionStatus(conn_) == PQTRANS_IDLE;
  const std::string text(sql);
  for (int attempt = 0;; ++attempt) {
    PGresult* result = PQexec(conn_, text.c_str());
    if (result != nullptr && Succeeded(result)) return PgResult(result);
    PgResult failed(result, ResultError(result, conn_));
    if (attempt > 0 || !ShouldRetry(was_idle)) return failed;
  }
}

std::size_t PgDb::Pipeline(const std::vector<PgCall>& calls, Failures failures) {
  // Statements with parameters are prepared first (once per connection), outside the
  // pipeline; those without (SAVEPOINT, RELEASE) go unnamed.
  std::vector<const std::string*> names(calls.size(), nullptr);
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (calls[i].params.size() == 0 || !prepared_) continue;
    names[i] = Prepared(calls[i].sql, calls[i].params);
    if (names[i] == nullptr) {
      LogStoreError(calls[i].sql, prepare_error_);
      return i;
    }
  }
  if (calls.empty()) return 0;
  if (PQenterPipelineMode(conn_) == 0) {
    LogStoreError("pipeline", ErrorMessage());
    return 0;
  }
  std::size_t succeeded = 0;
  for (std::size_t begin = 0; begin < calls.size() && succeeded == begin;
       begin += kPipelineChunk) {
    const std::size_t end = std::min(calls.size(), begin + kPipelineChunk);
    std::size_t sent = begin;
    for (; sent < end; ++sent) {
      const PgCall& call = calls[sent];
      int queued = 0;
      if (names[sent] == nullptr) {
        // Unnamed: a statement without parameters, or any without prepared statements.
        const std::string text(call.sql);
        const std::vector<const char*> values = call.params.Values();
        const std::vector<int> lengths = call.params.Lengths();
        const std::vector<int> formats(values.size(), 1);
        queued = PQsendQueryParams(conn_, text.c_str(), call.params.size(),
                                   call.params.types().data(), values.data(), lengths.data(),
                                   formats.data(), 1);
      } else {
        const std::vector<const char*> values = call.params.Values();
        const std::vector<int> lengths = call.params.Lengths();
        const std::vector<int> formats(values.size(), 1);
        queued = PQsendQueryPrepared(conn_, names[sent]->c_str(), call.params.size(),
                                     values.data(), lengths.data(), formats.data(), 1);
      }
      if (queued == 0) {
        LogStoreError(call.sql, ErrorMessage());
        break;
      }
    }
    if (PQpipelineSync(conn_) == 0) {
      LogStoreError("pipeline", ErrorMessage());
      break;  // nothing more can be read; the connection is reset before its next use
    }
    if (!ReadPipelineResults(calls, begin, sent, failures, &succeeded)) break;
    if (sent < end) break;  // the one that could not be sent failed
  }
  // With every answer read, leaving pipeline mode cannot fail; if it does (the connection
  // broke), EnsureConnected resets the connection before its next use.
  PQexitPipelineMode(conn_);
  return succeeded;
}

bool PgDb::ReadPipelineResults(const std::vector<PgCall>& calls, std::size_t begin,
                               std::size_t end, Failures failures, std::size_t* succeeded) {
  bool failed = false;
  for (std::size_t i = begin; i < end; ++i) {
    // Each statement's results end with a null.
    bool ok = true;
    while (PGresult* result = PQgetResult(conn_)) {
      if (!Succeeded(result)) {
        if (!failed && failures == Failures::kLogged &&
            PQresultStatus(result) != PGRES_PIPELINE_ABORTED) {
          LogStoreError(calls[i].sql, ResultError(result, conn_));
        }
        ok = false;
      }
      PQclear(result);
      if (PQstatus(conn_) != CONNECTION_OK) return false;
    }
    if (!ok) failed = true;
    if (!failed) *succeeded = i + 1;
  }
  PGresult* sync = PQgetResult(conn_);
  const bool synced = sync != nullptr && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
  PQclear(sync);
  if (!synced && !failed) LogStoreError("pipeline", ErrorMessage());
  return synced;
}

}  // namespace handoff::store
