// TLS of the server (tls_server.h, ServerOptions::tls) and of the client (http_client.h),
// with certificates made by the OpenSSL API in a temporary directory: names taken from
// certificates, the reload of rotated files with an injected clock, and real handshakes
// between our server and our client (the server's name verified, client certificates).

#include <gtest/gtest.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl/context.hpp>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "http/server.h"
#include "http/tls_server.h"
#include "http_client/http_client.h"
#include "serve_fakes.h"

namespace handoff::http {
namespace {

using namespace std::chrono_literals;

// A key and a certificate made in memory, written as PEM files when asked.
struct TestCert {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, &EVP_PKEY_free};
  std::unique_ptr<X509, decltype(&X509_free)> cert{nullptr, &X509_free};

  void Write(const std::string& cert_path, const std::string& key_path) const {
    std::FILE* out = std::fopen(cert_path.c_str(), "w");
    PEM_write_X509(out, cert.get());
    std::fclose(out);
    out = std::fopen(key_path.c_str(), "w");
    PEM_write_PrivateKey(out, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(out);
  }
};

// Adds extension `nid` with `value` (OpenSSL's config syntax) to `cert`, issued by `issuer`.
void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate with subject CN `cn` (none when empty) and `san` (e.g. "DNS:x,IP:1.2.3.4"),
// signed by `issuer` (self-signed when null; a CA when `ca`).
TestCert MakeCert(const std::string& cn, const std::string& san, const TestCert* issuer,
                  bool ca = false, long serial = 1) {
  TestCert out;
  out.key.reset(EVP_EC_gen("P-256"));
  out.cert.reset(X509_new());
  X509* cert = out.cert.get();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, out.key.get());
  X509_NAME* name = X509_get_subject_name(cert);
  if (!cn.empty()) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  }
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert));
  if (ca) AddExtension(cert, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
  if (!san.empty()) AddExtension(cert, issuer_cert, NID_subject_alt_name, san.c_str());
  X509_sign(cert, issuer != nullptr ? issuer->key.get() : out.key.get(), EVP_sha256());
  return out;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("handoff-tls-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    ca_ = MakeCert("test CA", "", nullptr, true);
    ca_.Write(Path("ca.pem"), Path("ca.key"));
    server_ = MakeCert("server", "IP:127.0.0.1", &ca_, false, 1001);
    server_.Write(Path("server.pem"), Path("server.key"));
    log_file_ = std::tmpfile();
    log_ = std::make_unique<ServerLog>(false, log_file_);
  }
  void TearDown() override {
    std::fclose(log_file_);
    std::filesystem::remove_all(dir_);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  std::string Log() const {
    std::fflush(log_file_);
    std::rewind(log_file_);
    std::string text;
    char buffer[4096];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, log_file_)) > 0) text.append(buffer, n);
    return text;
  }

  std::filesystem::path dir_;
  TestCert ca_;
  TestCert server_;
  std::FILE* log_file_ = nullptr;
  std::unique_ptr<ServerLog> log_;
};

TEST_F(TlsTest, TheCallerIsTheCommonNameOrElseTheFirstDnsName) {
  EXPECT_EQ(CertificateName(MakeCert("ci-bot", "DNS:other.example", &ca_).cert.get()), "ci-bot");
  EXPECT_EQ(CertificateName(MakeCert("", "IP:10.0.0.1,DNS:svc.example,DNS:b", &ca_).cert.get()),
            "svc.example");
  EXPECT_EQ(CertificateName(MakeCert("", "", &ca_).cert.get()), "");
  // A name that would break a log line names nobody.
  EXPECT_EQ(CertificateName(MakeCert("evil\nINFO forged", "", &ca_).cert.get()), "");
  EXPECT_EQ(CertificateName(nullptr), "");
}

TEST_F(TlsTest, FilesThatCannotBeServedAreRefusedNamingTheFlagAndTheFile) {
  const auto load = [&](TlsFiles files) {
    return ServerTls::Load(std::move(files), 10s, log_.get());
  };
  Result<std::shared_ptr<ServerTls>> missing =
      load({Path("nope.pem"), Path("server.key"), ""});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message,
            "--tls-cert " + Path("nope.pem") + ": cannot read it: No such file or directory");
  ca_.Write(Path("other.pem"), Path("other.key"));
  Result<std::shared_ptr<ServerTls>> mismatched =
      load({Path("server.pem"), Path("other.key"), ""});
  ASSERT_FALSE(mismatched.ok());
  EXPECT_NE(mismatched.error().message.find("--tls-key " + Path("other.key") +
                                            ": does not match the certificate"),
            std::string::npos)
      << mismatched.error().message;
  std::ofstream(Path("junk.pem")) << "junk\n";
  Result<std::shared_ptr<ServerTls>> junk_ca =
      load({Path("server.pem"), Path("server.key"), Path("junk.pem")});
  ASSERT_FALSE(junk_ca.ok());
  EXPECT_NE(junk_ca.error().message.find("--tls-client-ca " + Path("junk.pem")),
            std::string::npos);
  Result<std::shared_ptr<ServerTls>> good = load({Path("server.pem"), Path("server.key"), ""});
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_NE((*good)->Describe().find("CN=server"), std::string::npos) << (*good)->Describe();
  EXPECT_NE((*good)->Describe().find("serial 03E9"), std::string::npos) << (*good)->Describe();
  // TLS 1.2 at least, and no weak keys or ciphers.
  SSL_CTX* ctx = (*good)->ForHandshake()->native_handle();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
  EXPECT_GE(SSL_CTX_get_security_level(ctx), 2);
  EXPECT_FALSE((*good)->requires_client_certificates());
}

TEST_F(TlsTest, ChangedFilesAreLoadedAfterTheIntervalAndABrokenPairKeepsTheCurrentOne) {
  auto now = std::chrono::steady_clock::time_point() + 1h;
  Result<std::shared_ptr<ServerTls>> loaded = ServerTls::Load(
      {Path("server.pem"), Path("server.key"), ""}, 10s, log_.get(), [&] { return now; });
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ServerTls& tls = **loaded;
  const auto first = tls.ForHandshake();

  // A rotated pair: not looked at before the interval, served after it.
  MakeCert("server", "IP:127.0.0.1", &ca_, false, 2002).Write(Path("server.pem"),
                                                               Path("server.key"));
  now += 5s;
  EXPECT_EQ(tls.ForHandshake(), first);
  now += 5s;
  const auto second = tls.ForHandshake();
  EXPECT_NE(second, first);
  EXPECT_NE(tls.Describe().find("serial 07D2"), std::string::npos) << tls.Describe();
  EXPECT_NE(Log().find("TLS certificate reloaded"), std::string::npos) << Log();
  // Unchanged files: the same context.
  now += 10s;
  EXPECT_EQ(tls.ForHandshake(), second);

  // Half a rotation (a certificate for another key): logged once, the current pair kept.
  MakeCert("server", "IP:127.0.0.1", &ca_, false, 3003).Write(Path("server.pem"),
                                                               Path("elsewhere.key"));
  now += 10s;
  EXPECT_EQ(tls.ForHandshake(), second);
  now += 10s;
  EXPECT_EQ(tls.ForHandshake(), second);
  const std::string log = Log();
  const std::size_t at = log.find("cannot reload the TLS certificate");
  ASSERT_NE(at, std::string::npos) << log;
  EXPECT_EQ(log.find("cannot reload the TLS certificate", at + 1), std::string::npos) << log;
  EXPECT_NE(tls.Describe().find("serial 07D2"), std::string::npos) << tls.Describe();
}

TEST_F(TlsTest, HandshakeFailuresAreToldApart) {
  const auto reason = [](int r) {
    return ClassifyHandshakeFailure(nullptr, ERR_PACK(ERR_LIB_SSL, 0, r), false, "x").first;
  };
  EXPECT_EQ(reason(SSL_R_HTTP_REQUEST), HandshakeFailure::kNotTls);
  EXPECT_EQ(reason(SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE),
            HandshakeFailure::kNoClientCertificate);
  EXPECT_EQ(reason(SSL_R_CERTIFICATE_VERIFY_FAILED), HandshakeFailure::kClientCertificateRefused);
  EXPECT_EQ(reason(SSL_R_NO_SHARED_CIPHER), HandshakeFailure::kProtocol);
  EXPECT_EQ(ClassifyHandshakeFailure(nullptr, 0, true, "timeout").first,
            HandshakeFailure::kTimeout);
}

TEST(ParseUrlTest, HttpsUrlsDefaultToPort443) {
  std::string error;
  const std::optional<Url> url = ParseUrl("https://handoff.example.com/base/", &error);
  ASSERT_TRUE(url.has_value()) << error;
  EXPECT_TRUE(url->https);
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->host, "handoff.example.com");
  EXPECT_EQ(url->base, "/base");
  EXPECT_FALSE(ParseUrl("http://h:8080", &error)->https);
  EXPECT_FALSE(ParseUrl("ftp://h", &error).has_value());
}

class TlsServerTest : public TlsTest {
 protected:
  TlsServerTest() : api_(store_) {
    api_.suites.push_back(SuiteInfo{.name = "Checkout", .tests = {"Card"}});
  }

  void StartServer(const std::string& client_ca, ServerOptions options = {}) {
    Result<std::shared_ptr<ServerTls>> tls =
        ServerTls::Load({Path("server.pem"), Path("server.key"), client_ca}, 10s, log_.get());
    ASSERT_TRUE(tls.ok()) << tls.error().message;
    options.host = "127.0.0.1";
    options.port = 0;
    options.tls = *tls;
    server_ = std::make_unique<Server>(api_, store_, options);
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
  }

  std::shared_ptr<const ClientTls> ClientConfig(ClientTlsOptions options) {
    Result<std::shared_ptr<const ClientTls>> loaded = LoadClientTls(options);
    EXPECT_TRUE(loaded.ok()) << loaded.error().message;
    return loaded.ok() ? *loaded : nullptr;
  }

  testing::FakeStore store_;
  testing::FakeApi api_;
  std::unique_ptr<Server> server_;
};

TEST_F(TlsServerTest, TheClientVerifiesTheServersCertificateAndItsName) {
  StartServer("");
  Client trusted("127.0.0.1", server_->port(), ClientConfig({Path("ca.pem"), "", ""}));
  ClientResult r = trusted.Request("GET", "/api/v1/suites");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(trusted.Request("GET", "/healthz").status, 200);
  EXPECT_EQ(trusted.connections_opened(), 1);  // kept alive over TLS

  // The certificate is for 127.0.0.1 only: "localhost" is another name.
  Client by_name("localhost", server_->port(), ClientConfig({Path("ca.pem"), "", ""}));
  r = by_name.Request("GET", "/healthz");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("certificate verify failed"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("not for \"localhost\""), std::string::npos) << r.error;

  // The system's CAs do not know the test CA.
  Client untrusted("127.0.0.1", server_->port(), ClientConfig({}));
  r = untrusted.Request("GET", "/healthz");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("use --cacert"), std::string::npos) << r.error;

  // A plain client gets no HTTP answer.
  Client plain("127.0.0.1", server_->port());
  r = plain.Request("GET", "/healthz", {}, {}, 5s);
  EXPECT_FALSE(r.ok()) << r.status << " " << r.body;
}

TEST_F(TlsServerTest, AClientCertificateFromTheClientCaIsRequired) {
  StartServer(Path("ca.pem"));
  MakeCert("ci", "", &ca_, false, 7).Write(Path("ci.pem"), Path("ci.key"));
  const TestCert other_ca = MakeCert("other CA", "", nullptr, true);
  MakeCert("ci", "", &other_ca, false, 8).Write(Path("stranger.pem"), Path("stranger.key"));

  Client with_cert("127.0.0.1", server_->port(),
                   ClientConfig({Path("ca.pem"), Path("ci.pem"), Path("ci.key")}));
  const ClientResult ok = with_cert.Request("GET", "/healthz");
  ASSERT_TRUE(ok.ok()) << ok.error;
  EXPECT_EQ(ok.status, 200);

  // Signed by the CA, but naming nobody: no caller to give a role to.
  MakeCert("", "IP:10.0.0.1", &ca_, false, 9).Write(Path("nameless.pem"), Path("nameless.key"));
  for (const std::string who : {"", "stranger", "nameless"}) {
    ClientTlsOptions options{Path("ca.pem"), "", ""};
    if (!who.empty()) options = {Path("ca.pem"), Path(who + ".pem"), Path(who + ".key")};
    Client refused("127.0.0.1", server_->port(), ClientConfig(options));
    const ClientResult r = refused.Request("GET", "/healthz", {}, {}, 5s);
    EXPECT_FALSE(r.ok()) << who << ": " << r.status;
    if (who != "nameless") {
      EXPECT_NE(r.error.find("the server refused the connection's client certificate"),
                std::string::npos)
          << who << ": " << r.error;
    }
  }
  // Counted by the handshake's handler, which may run just after the client saw the alert.
  const auto counted = [&] {
    const std::string metrics = server_->Metrics();
    return metrics.find("handoff_http_tls_handshake_failures_total{reason=\"no_client_"
                        "certificate\"} 1") != std::string::npos &&
           metrics.find("handoff_http_tls_handshake_failures_total{reason=\"client_"
                        "certificate_refused\"} 2") != std::string::npos;
  };
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!counted() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(counted()) << server_->Metrics();
}

// A client that connects and never starts its handshake holds its connection no longer
// than the header timeout, like one that never sends its request header.
TEST_F(TlsServerTest, AHandshakeNeverStartedIsClosedAtTheHeaderTimeout) {
  ServerOptions options;
  options.header_timeout = 200ms;
  StartServer("", options);
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket(ioc);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()});
  const auto start = std::chrono::steady_clock::now();
  char byte;
  boost::system::error_code ec;
  socket.read_some(boost::asio::buffer(&byte, 1), ec);  // blocks until the server closes
  EXPECT_EQ(ec, boost::asio::error::eof) << ec.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  constexpr std::string_view kTimedOut =
      "handoff_http_tls_handshake_failures_total{reason=\"timeout\"} 1";
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (server_->Metrics().find(kTimedOut) == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_NE(server_->Metrics().find(kTimedOut), std::string::npos)
      << server_->Metrics();
}

}  // namespace
}  // namespace handoff::http
