#pragma once

// HTTPS for `serve`: the server's certificate and key, reloaded when their files change (as
// cert-manager or an ACME client rotates them, without a restart), and client certificates
// (mTLS) verified against a CA. TLS 1.2 at least, OpenSSL's default ciphers at security
// level 2 or above.
//
// Only this file's .cc and the sessions (session.cc) include OpenSSL and Asio's SSL headers;
// the rest of the server knows the context only by its forward-declared name.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/result.h"
#include "engine/server_log.h"
#include "http/log_throttle.h"
#include "metrics/registry.h"

namespace boost::asio::ssl {
class context;
}

struct ssl_st;
struct x509_st;

namespace handoff::http {

// The files of the server's TLS configuration (PEM).
struct TlsFiles {
  std::string cert_file;       // the certificate, then any intermediates (a chain)
  std::string key_file;        // its private key, unencrypted
  std::string client_ca_file;  // empty: no client certificate asked for; else required
};

// The server's TLS contexts: the current one for each new connection, replaced when the
// files change and the new ones load. Thread-safe.
class ServerTls {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // Loads `files`; an error names the file and what is wrong with it. The files are looked
  // at again at most every `reload_interval`; reloads and failed reloads are logged to `log`
  // (may be null).
  static Result<std::shared_ptr<ServerTls>> Load(
      TlsFiles files, std::chrono::milliseconds reload_interval, ServerLog* log,
      Clock clock = [] { return std::chrono::steady_clock::now(); });

  ~ServerTls();
  ServerTls(const ServerTls&) = delete;
  ServerTls& operator=(const ServerTls&) = delete;

  // Returns the context a new connection handshakes with. When `reload_interval` has passed
  // since the last look and a file changed, the files are loaded first: a pair that loads
  // replaces the current one; one that does not is logged, once, and the current one kept.
  std::shared_ptr<boost::asio::ssl::context> ForHandshake();

  // Returns true if clients must present a certificate signed by the client CA.
  bool requires_client_certificates() const { return !files_.client_ca_file.empty(); }

  // Describes the certificate being served ("subject CN=..., serial ..., expires ..."), for
  // the start-up log.
  std::string Describe() const;

 private:
  // What identifies the content of the files without reading them: device, inode, size and
  // modification time of each (a symlink swap, as Kubernetes does for a Secret, changes it).
  using FileStamp = std::string;

  struct Loaded;
  ServerTls(TlsFiles files, std::chrono::milliseconds reload_interval, ServerLog* log,
            Clock clock);
  static Result<Loaded> LoadFiles(const TlsFiles& files);
  FileStamp Stamp() const;

  const TlsFiles files_;
  const std::chrono::milliseconds reload_interval_;
  ServerLog* const log_;
  const Clock clock_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_;
  std::string description_;
  FileStamp loaded_stamp_;
  FileStamp failed_stamp_;  // files that did not load: not tried again until they change
  std::chrono::steady_clock::time_point next_check_;
};

// Returns the name a verified client certificate gives its holder: its subject CN, or its
// first DNS subject alternative name when it has no CN; "" when it has neither, or when the
// name holds a control character (it would be logged and stored).
std::string CertificateName(x509_st* certificate);

// Returns the name of the certificate the peer of `ssl` presented (CertificateName), or ""
// without one.
std::string PeerCertificateName(ssl_st* ssl);

// Why a TLS handshake failed; each is a value of the `reason` label of
// handoff_http_tls_handshake_failures_total.
enum class HandshakeFailure {
  kNotTls,                    // the client spoke plain HTTP (or something else) to the port
  kNoClientCertificate,       // mTLS: the client presented none
  kClientCertificateRefused,  // mTLS: not signed by the client CA, expired, ...
  kTimeout,                   // no complete handshake within the header timeout
  kProtocol,                  // anything else: no common version or cipher, a reset...
};

// Returns the label value of `failure` ("not_tls", ...).
std::string_view HandshakeFailureName(HandshakeFailure failure);

// Returns why the handshake of `ssl` failed with error `code` (an OpenSSL error code as
// Asio reports it; `timed_out` for the deadline), and a detail for the log.
std::pair<HandshakeFailure, std::string> ClassifyHandshakeFailure(ssl_st* ssl,
                                                                  unsigned long code,
                                                                  bool timed_out,
                                                                  std::string_view message);

// Counts and logs failed handshakes: a counter per reason, and a log line for the first of a
// reason and then at most one per `interval`, telling how many were not logged (a port
// scanner must not flood the log).
class HandshakeReporter {
 public:
  // Registers the counter in `registry`; logs to `log` (may be null).
  HandshakeReporter(metrics::Registry& registry, ServerLog* log,
                    std::chrono::milliseconds interval = std::chrono::seconds(10));

  // Counts one failed handshake of `client`, and logs it unless a line for the reason was
  // written less than `interval` ago.
  void Hit(HandshakeFailure failure, std::string_view client, std::string_view detail);

 private:
  metrics::Family<metrics::Counter>& failures_;
  ServerLog* log_;
  LogThrottle throttle_;
};

}  // namespace handoff::http
