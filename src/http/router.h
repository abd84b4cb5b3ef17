#pragma once

// The HTTP API of `serve` as a pure function from a request to a response: no sockets, so
// every endpoint is unit-tested directly. The server (server.h) parses HTTP, calls Route
// and writes what it returns; the one thing Route cannot return as a body, a live stream of
// a run's events, it describes (Response::stream) and the server carries out.
//
// Error policy: every error is a JSON body {"error":{"code":"<snake_case>","message":...}}
// with the matching status; Route never throws (an unexpected exception becomes 500).

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/serve_api.h"
#include "store/store.h"

namespace handoff::http {

// Header fields in the order received; names compare case-insensitively.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Returns the value of the first field named `name` (any case), or nullptr.
const std::string* FindHeader(const HeaderList& headers, std::string_view name);

// An HTTP request as the router sees it.
struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent: "/api/v1/runs?limit=5"
  HeaderList headers;
  std::string body;
  // What the server knows of the connection (never taken from headers): the client's IP
  // address, whether the request came over TLS, and the subject CN of a client certificate
  // the server verified (mTLS; empty without one).
  std::string peer_address;
  bool secure = false;
  std::string client_cert_name;

  // Returns the value of header `name` (any case), or "" if absent.
  std::string_view Header(std::string_view name) const;
};

// What the server should do instead of sending a body: stream the journal of a run as
// Server-Sent Events, starting after `after_seq`.
struct EventStream {
  std::int64_t run_id = 0;
  std::int64_t after_seq = 0;
  bool run_finished = false;  // the run had finished when the request was routed
};

// An HTTP response. The body is `body` followed by `shared_body` (when set): large parts
// that are cached (the tests of a finished run) are shared, not copied, into responses.
struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::shared_ptr<const std::string> shared_body;
  HeaderList headers;  // extra fields (Allow, Location, Content-Disposition, ...)
  std::optional<EventStream> stream;

  // Returns the whole body (a copy: for tests and small responses).
  std::string FullBody() const;
  // Returns the body's length in bytes.
  std::size_t BodySize() const;
};

// The gzip of the whole body of a finished run (header + tests tail), valid while the run
// header still renders to `head` (values can be attached to a finished run).
struct GzipBody {
  std::string head;  // the run header (AppendRunJsonHead) it was compressed with
  std::string gzip;  // gzip of head + tail
};

// Returns true if an Accept-Encoding value accepts gzip ("gzip" or "x-gzip", q != 0).
bool AcceptsGzip(std::string_view accept_encoding);

// Returns the gzip (RFC 1952) of the concatenation of `parts`, compressed at `level`.
std::string GzipCompress(std::initializer_list<std::string_view> parts, int level);

// A thread-safe LRU cache of the rendered tests of finished runs (the tail of the run
// object, AppendRunJsonTestsTail), bounded by bytes. Finished runs' tests never change, so
// a tail never goes stale; it is only evicted. Each entry may also hold the gzip of the
// whole body (GzipBody), which the caller replaces when the run header changed.
class RunTestsCache {
 public:
  // A cache holding at most `max_bytes` of rendered JSON (0 disables it).
  explicit RunTestsCache(std::size_t max_bytes = 64u << 20);

  // Returns the cached tail of run `run_id`, or nullptr.
  std::shared_ptr<const std::string> Get(std::int64_t run_id);
  // Stores the tail of run `run_id`; entries larger than the whole budget are not kept.
  // Replacing a tail drops the entry's gzip.
  void Put(std::int64_t run_id, std::shared_ptr<const std::string> tail);
  // Returns the cached gzip body of run `run_id`, or nullptr.
  std::shared_ptr<const GzipBody> GetGzip(std::int64_t run_id);
  // Attaches (or replaces) the gzip body of run `run_id`; kept only while its tail is
  // cached, and only if tail and gzip together fit in the budget.
  void PutGzip(std::int64_t run_id, std::shared_ptr<const GzipBody> gzip);

  // Bytes (tails, gzip heads and bodies) and entries held now (for tests and metrics).
  std::size_t bytes() const;
  std::size_t size() const;

 private:
  struct Entry {
    std::int64_t run_id = 0;
    std::shared_ptr<const std::string> tail;
    std::shared_ptr<const GzipBody> gzip;
    std::size_t Bytes() const;
  };

  void EvictLocked();  // drops least recently used entries until within the budget

  mutable std::mutex mu_;
  const std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::int64_t, std::list<Entry>::iterator> index_;
};

struct AccessPolicy;

// Routes `req` to the API: /api/v1/..., /healthz, /readyz, /metrics and /. `cache` (may
// be null) keeps the rendered tests of finished runs for GET /api/v1/runs/{id}, and the
// gzip of their whole body, sent (Content-Encoding: gzip) when Accept-Encoding allows.
// `policy` (access.h; null: no authentication, any Host) admits or refuses the request
// first; requests that change state must be same-origin JSON whatever the policy.
Response Route(const Request& req, ServeApi& api, store::Store& store,
               RunTestsCache* cache = nullptr, const AccessPolicy* policy = nullptr);

// Returns a JSON error response {"error":{"code":code,"message":message}}.
Response ErrorResponse(int status, std::string_view code, std::string_view message);

// Returns true if `event` is a "run" event whose data says the run has finished (passed,
// failed, cancelled or error): the last event a live stream sends.
bool IsRunFinishedEvent(const store::RunEvent& event);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, for query strings).
// Returns false on a malformed escape.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out);

}  // namespace handoff::http
