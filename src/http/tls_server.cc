#include "http/tls_server.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <boost/asio/ssl/context.hpp>
#include <cerrno>
#include <cstring>
#include <utility>

namespace handoff::http {
namespace {

namespace ssl = boost::asio::ssl;

// How many certificates may stand between a client's certificate and the client CA
// (intermediates); OpenSSL's default of 100 lets a client make the server walk long chains.
constexpr int kClientVerifyDepth = 4;
// Names the server's sessions, so that a resumed TLS 1.2 session keeps its verified client
// certificate (OpenSSL refuses resumption with client verification without one).
constexpr std::string_view kSessionIdContext = "handoff";

// Returns true if the first error OpenSSL queued says a key is not the certificate's
// (SSL_CTX_use_PrivateKey_file checks it itself), leaving the queue as it is.
bool KeyMismatch() {
  return ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH;
}

// The last error OpenSSL queued, as its reason string ("no such file", "key values
// mismatch"), and the queue emptied.
std::string OpenSslError() {
  unsigned long code = 0;
  unsigned long last = 0;
  while ((code = ERR_get_error()) != 0) last = code;
  if (last == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(last);
  if (reason != nullptr) return reason;
  char text[256];
  ERR_error_string_n(last, text, sizeof text);
  return text;
}

// Never asks for a passphrase on the terminal (OpenSSL's default for an encrypted key): the
// server runs unattended, so an encrypted key is an error.
int NoPassphrase(char*, int, int, void*) { return 0; }

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

std::string DescribeCertificate(X509* cert) {
  if (cert == nullptr) return "no certificate";
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  const std::string subject = BioText(bio.get());
  BIO_reset(bio.get());
  ASN1_TIME_print(bio.get(), X509_get0_notAfter(cert));
  const std::string not_after = BioText(bio.get());
  std::string serial = "?";
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  return fmt::format("subject \"{}\", serial {}, expires {}", subject, serial, not_after);
}

// The stamp of one file: what changes when it is rewritten or replaced.
std::string StampOf(const std::string& path) {
  if (path.empty()) return "-";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fmt::format("missing({})", errno);
  return fmt::format("{}:{}:{}:{}.{}", st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec,
                     st.st_mtim.tv_nsec);
}

}  // namespace

struct ServerTls::Loaded {
  std::shared_ptr<ssl::context> context;
  std::string description;
};

ServerTls::ServerTls(TlsFiles files, std::chrono::milliseconds reload_interval, ServerLog* log,
                     Clock clock)
    : files_(std::move(files)),
      reload_interval_(reload_interval),
      log_(log),
      clock_(std::move(clock)) {}

ServerTls::~ServerTls() = default;

Result<ServerTls::Loaded> ServerTls::LoadFiles(const TlsFiles& files) {
  ERR_clear_error();
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  const auto fail = [](std::string_view flag, const std::string& file, std::string what) {
    return Error{ErrorCode::kInvalid, fmt::format("{} {}: {}", flag, file, std::move(what))};
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_get_security_level(ctx) < 2) SSL_CTX_set_security_level(ctx, 2);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_default_passwd_cb(ctx, &NoPassphrase);
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_file.c_str()) != 1) {
    const std::string why = OpenSslError();
    struct stat st {};
    if (::stat(files.cert_file.c_str(), &st) != 0) {
      return fail("--tls-cert", files.cert_file,
                  fmt::format("cannot read it: {}", std::strerror(errno)));
    }
    return fail("--tls-cert", files.cert_file,
                fmt::format("not a usable PEM certificate ({})", why));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const bool mismatch = KeyMismatch();
    const std::string why = OpenSslError();
    if (mismatch) {
      return fail("--tls-key", files.key_file,
                  fmt::format("does not match the certificate of --tls-cert {} ({})",
                              files.cert_file, why));
    }
    struct stat st {};
    if (::stat(files.key_file.c_str(), &st) != 0) {
      return fail("--tls-key", files.key_file,
                  fmt::format("cannot read it: {}", std::strerror(errno)));
    }
    return fail("--tls-key", files.key_file,
                fmt::format("not a usable unencrypted PEM private key ({})", why));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return fail("--tls-key", files.key_file,
                fmt::format("does not match the certificate of --tls-cert {} ({})",
                            files.cert_file, OpenSslError()));
  }
  if (!files.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, files.client_ca_file.c_str(), nullptr) != 1) {
      const std::string why = OpenSslError();
      struct stat st {};
      if (::stat(files.client_ca_file.c_str(), &st) != 0) {
        return fail("--tls-client-ca", files.client_ca_file,
                    fmt::format("cannot read it: {}", std::strerror(errno)));
      }
      return fail("--tls-client-ca", files.client_ca_file,
                  fmt::format("no usable PEM certificate in it ({})", why));
    }
    // The CA names go in the certificate request, so a client with several certificates
    // picks the right one.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.client_ca_file.c_str());
    if (names == nullptr) {
      return fail("--tls-client-ca", files.client_ca_file,
                  fmt::format("no usable PEM certificate in it ({})", OpenSslError()));
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_verify_depth(ctx, kClientVerifyDepth);
    SSL_CTX_set_session_id_context(
        ctx, reinterpret_cast<const unsigned char*>(kSessionIdContext.data()),
        static_cast<unsigned int>(kSessionIdContext.size()));
  }
  ERR_clear_error();
  return Loaded{std::move(context), DescribeCertificate(SSL_CTX_get0_certificate(ctx))};
}

ServerTls::FileStamp ServerTls::Stamp() const {
  return StampOf(files_.cert_file) + "|" + StampOf(files_.key_file) + "|" +
         StampOf(files_.client_ca_file);
}

Result<std::shared_ptr<ServerTls>> ServerTls::Load(TlsFiles files,
                                                   std::chrono::milliseconds reload_interval,
                                                   ServerLog* log, Clock clock) {
  std::shared_ptr<ServerTls> tls(
      new ServerTls(std::move(files), reload_interval, log, std::move(clock)));
  // Stamped before reading: a file replaced while it is read is read again next time.
  tls->loaded_stamp_ = tls->Stamp();
  Result<Loaded> loaded = LoadFiles(tls->files_);
  if (!loaded.ok()) return std::move(loaded).error();
  tls->current_ = std::move(loaded->context);
  tls->description_ = std::move(loaded->description);
  tls->next_check_ = tls->clock_() + reload_interval;
  return tls;
}

std::shared_ptr<boost::asio::ssl::context> ServerTls::ForHandshake() {
  std::lock_guard lock(mu_);
  const auto now = clock_();
  if (now < next_check_) return current_;
  next_check_ = now + reload_interval_;
  const FileStamp stamp = Stamp();
  if (stamp == loaded_stamp_ || stamp == failed_stamp_) return current_;
  Result<Loaded> loaded = LoadFiles(files_);
  if (!loaded.ok()) {
    failed_stamp_ = stamp;
    if (log_ != nullptr) {
      log_->Error("cannot reload the TLS certificate: still serving the previous one",
                  {{"error", loaded.error().message}, {"serving", description_}});
    }
    return current_;
  }
  current_ = std::move(loaded->context);
  description_ = std::move(loaded->description);
  loaded_stamp_ = stamp;
  failed_stamp_.clear();
  if (log_ != nullptr) {
    log_->Info("TLS certificate reloaded",
               {{"cert", files_.cert_file}, {"serving", description_}});
  }
  return current_;
}

std::string ServerTls::Describe() const {
  std::lock_guard lock(mu_);
  return description_;
}

std::string CertificateName(x509_st* certificate) {
  if (certificate == nullptr) return "";
  std::string name;
  X509_NAME* subject = X509_get_subject_name(certificate);
  const int at =
      subject == nullptr ? -1 : X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at >= 0) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
    unsigned char* utf8 = nullptr;
    const int length = ASN1_STRING_to_UTF8(&utf8, data);
    if (length >= 0) {
      name.assign(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
    }
    OPENSSL_free(utf8);
  } else {
    auto* names = static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
    if (names != nullptr) {
      for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* entry = sk_GENERAL_NAME_value(names, i);
        if (entry->type != GEN_DNS) continue;
        const ASN1_STRING* dns = entry->d.dNSName;
        name.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                    static_cast<std::size_t>(ASN1_STRING_length(dns)));
        break;
      }
      GENERAL_NAMES_free(names);
    }
  }
  for (const char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "";
  }
  return name;
}

std::string PeerCertificateName(ssl_st* ssl) {
  X509* peer = SSL_get1_peer_certificate(ssl);
  if (peer == nullptr) return "";
  std::string name = CertificateName(peer);
  X509_free(peer);
  return name;
}

std::string_view HandshakeFailureName(HandshakeFailure failure) {
  switch (failure) {
    case HandshakeFailure::kNotTls:
      return "not_tls";
    case HandshakeFailure::kNoClientCertificate:
      return "no_client_certificate";
    case HandshakeFailure::kClientCertificateRefused:
      return "client_certificate_refused";
    case HandshakeFailure::kTimeout:
      return "timeout";
    case HandshakeFailure::kProtocol:
      return "protocol";
  }
  return "protocol";
}

std::pair<HandshakeFailure, std::string> ClassifyHandshakeFailure(ssl_st* ssl,
                                                                  unsigned long code,
                                                                  bool timed_out,
                                                                  std::string_view message) {
  if (timed_out) {
    return {HandshakeFailure::kTimeout, "no complete TLS handshake within the header timeout"};
  }
  const int reason = ERR_GET_REASON(code);
  if (reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST ||
      reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_UNKNOWN_PROTOCOL) {
    return {HandshakeFailure::kNotTls,
            "the client did not speak TLS (plain HTTP to an HTTPS port?)"};
  }
  if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
    return {HandshakeFailure::kNoClientCertificate, "the client presented no certificate"};
  }
  const long verify = ssl != nullptr ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED || verify != X509_V_OK) {
    std::string detail = "the client's certificate was refused";
    if (verify != X509_V_OK) {
      detail += fmt::format(": {}", X509_verify_cert_error_string(verify));
    }
    return {HandshakeFailure::kClientCertificateRefused, std::move(detail)};
  }
  return {HandshakeFailure::kProtocol, std::string(message)};
}

HandshakeReporter::HandshakeReporter(metrics::Registry& registry, ServerLog* log,
                                     std::chrono::milliseconds interval)
    : failures_(registry.AddCounter(
          "handoff_http_tls_handshake_failures_total",
          "TLS handshakes that failed, by reason: not_tls (plain HTTP to the HTTPS port), "
          "no_client_certificate, client_certificate_refused, timeout, protocol.",
          {"reason"})),
      log_(log),
      throttle_(interval) {
  for (HandshakeFailure failure :
       {HandshakeFailure::kNotTls, HandshakeFailure::kNoClientCertificate,
        HandshakeFailure::kClientCertificateRefused, HandshakeFailure::kTimeout,
        HandshakeFailure::kProtocol}) {
    failures_.With({std::string(HandshakeFailureName(failure))});
  }
}

void HandshakeReporter::Hit(HandshakeFailure failure, std::string_view client,
                            std::string_view detail) {
  failures_.With({std::string(HandshakeFailureName(failure))}).Inc();
  const std::optional<std::uint64_t> suppressed = throttle_.Pass(static_cast<int>(failure));
  if (!suppressed || log_ == nullptr) return;
  ServerLog::Fields fields = {{"reason", std::string(HandshakeFailureName(failure))},
                              {"client", std::string(client)},
                              {"error", std::string(detail)}};
  if (*suppressed > 0) fields.emplace_back("not_logged", std::to_string(*suppressed));
  log_->Warn("TLS handshake failed", fields);
}

}  // namespace handoff::http
