#include "http/server.h"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "http_client/http_client.h"
#include "serve_fakes.h"

namespace handoff::http {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::FakeApi;
using testing::FakeStore;

// What a stream delivered, for the test thread to wait on.
struct Received {
  std::mutex mu;
  std::condition_variable changed;
  std::vector<std::int64_t> ids;
  std::vector<std::string> types;

  bool Add(std::int64_t id, const std::string& type) {
    std::lock_guard lock(mu);
    ids.push_back(id);
    types.push_back(type);
    changed.notify_all();
    return true;
  }
  bool WaitFor(std::size_t count) {
    std::unique_lock lock(mu);
    return changed.wait_for(lock, 10s, [&] { return ids.size() >= count; });
  }
  std::vector<std::int64_t> Ids() {
    std::lock_guard lock(mu);
    return ids;
  }
};

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() : api_(store_) {
    api_.suites.push_back(SuiteInfo{.name = "Checkout", .tests = {"Card", "Declined"}});
  }

  void StartServer(ServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<Server>(api_, store_, options);
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
    ASSERT_NE(server_->port(), 0);
  }

  std::int64_t AddRun(store::RunStatus status) {
    store::Run run;
    run.suite = "Checkout";
    run.status = status;
    return store_.AddRun(run, {store::TestRow{.name = "Card"}});
  }

  static store::RunEvent TestEvent(std::int64_t seq) {
    return {seq, "test", R"({"name":"Card","status":"running"})"};
  }
  static store::RunEvent RunEvent(std::int64_t seq, const char* status) {
    return {seq, "run", std::string(R"({"id":1,"status":")") + status + "\"}"};
  }

  // Sends `raw` on a new connection and returns everything the server answers until it
  // closes the connection.
  std::string RawExchange(const std::string& raw) {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket socket(ioc);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()});
    boost::asio::write(socket, boost::asio::buffer(raw));
    std::string answer;
    boost::system::error_code ec;
    char buffer[4096];
    while (true) {
      const std::size_t n = socket.read_some(boost::asio::buffer(buffer), ec);
      if (ec) break;
      answer.append(buffer, n);
    }
    return answer;
  }

  FakeStore store_;
  FakeApi api_;
  std::unique_ptr<Server> server_;
};

TEST_F(HttpServerTest, GetAndPostRoundTripsOnOneKeptAliveConnection) {
  StartServer();
  Client client("127.0.0.1", server_->port());
  ClientResult r = client.Request("GET", "/api/v1/suites");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(json::parse(r.body).at("suites").at(0).at("name"), "Checkout");

  r = client.Request("POST", "/api/v1/suites/Checkout/runs", R"({"reference":"v1"})",
                     {{"Idempotency-Key", "k1"}});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(json::parse(r.body).at("reference"), "v1");
  r = client.Request("POST", "/api/v1/suites/Checkout/runs", "", {{"Idempotency-Key", "k1"}});
  EXPECT_EQ(r.status, 200);

  r = client.Request("GET", "/api/v1/runs/1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body).at("tests").as_array().size(), 2u);
  EXPECT_EQ(client.connections_opened(), 1);
}

TEST_F(HttpServerTest, PipelinedRequestsOnOneConnectionAreAnsweredInOrder) {
  StartServer();
  const std::string answer = RawExchange(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::size_t first = answer.find("HTTP/1.1 200 OK");
  const std::size_t second = answer.find("HTTP/1.1 404 Not Found");
  ASSERT_NE(first, std::string::npos) << answer;
  ASSERT_NE(second, std::string::npos) << answer;
  EXPECT_LT(first, second);
  EXPECT_NE(answer.find("{\"error\":{\"code\":\"not_found\""), std::string::npos);
}

TEST_F(HttpServerTest, BodyOverTheLimitIs413AndCloses) {
  ServerOptions options;
  options.body_limit = 1024;
  StartServer(options);
  Client client("127.0.0.1", server_->port());
  const ClientResult r =
      client.Request("POST", "/api/v1/suites/Checkout/runs", std::string(64 * 1024, ' '));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(json::parse(r.body).at("error").at("code"), "payload_too_large");
  EXPECT_EQ(client.Request("GET", "/healthz").status, 200);
  EXPECT_EQ(client.connections_opened(), 2);  // the 413 closed the first
}

TEST_F(HttpServerTest, MalformedRequestIs400AndCloses) {
  StartServer();
  const std::string answer = RawExchange("GARBAGE\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 Bad Request")) << answer;
  EXPECT_NE(answer.find("\"code\":\"bad_request\""), std::string::npos) << answer;
}

// Request smuggling: a body framed by anything but chunked alone would be read by its
// Content-Length, and what follows it would run as a second request.
TEST_F(HttpServerTest, AnUnsupportedTransferEncodingIs501AndNothingBehindItRuns) {
  StartServer();
  // Codings that do not end in chunked come with the Content-Length a smuggler relies on;
  // those that do are chunked bodies we cannot decode.
  for (const std::string framing :
       {"identity\r\nContent-Length: 2\r\n\r\n{}", "gzip\r\nContent-Length: 2\r\n\r\n{}",
        "xchunked\r\nContent-Length: 2\r\n\r\n{}", "gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        "chunked, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"}) {
    const std::string coding = framing.substr(0, framing.find('\r'));
    const std::string answer = RawExchange(
        "POST /api/v1/suites/Checkout/runs HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: " +
        framing +
        "POST /api/v1/suites/Checkout/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 501 Not Implemented")) << coding << "\n" << answer;
    EXPECT_NE(answer.find("\"code\":\"not_implemented\""), std::string::npos) << answer;
    EXPECT_NE(answer.find("only chunked is accepted"), std::string::npos) << answer;
    // One answer, then the connection closed: the second request never ran.
    EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << coding << "\n" << answer;
  }
  EXPECT_TRUE(store_.ListRuns({}).empty());
}

TEST_F(HttpServerTest, AChunkedBodyIsRead) {
  StartServer();
  const std::string answer = RawExchange(
      "POST /api/v1/suites/Checkout/runs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\n{\"ref\r\n10\r\nerence\":\"v7\"}   \r\n0\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 201 Created")) << answer;
  EXPECT_NE(answer.find("\"reference\":\"v7\""), std::string::npos) << answer;
}

TEST_F(HttpServerTest, FramingThatIsAmbiguousOrWithoutHostIs400) {
  StartServer();
  const std::string both = RawExchange(
      "POST /api/v1/suites/Checkout/runs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Content-Length: 5\r\n\r\n0\r\n\r\n");
  EXPECT_TRUE(both.starts_with("HTTP/1.1 400 Bad Request")) << both;
  const std::string no_host = RawExchange("GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(no_host.starts_with("HTTP/1.1 400 Bad Request")) << no_host;
  EXPECT_NE(no_host.find("must have a Host header"), std::string::npos) << no_host;
  const std::string two_hosts = RawExchange("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  EXPECT_TRUE(two_hosts.starts_with("HTTP/1.1 400 Bad Request")) << two_hosts;
  // HTTP/1.0 has no Host requirement.
  const std::string old = RawExchange("GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(old.starts_with("HTTP/1.1 200 OK")) << old;
  EXPECT_TRUE(store_.ListRuns({}).empty());
}

TEST_F(HttpServerTest, AnswersAreNotSniffedAndApiAnswersAreNotStored) {
  StartServer();
  Client client("127.0.0.1", server_->port());
  ClientResult r = client.Request("GET", "/api/v1/suites");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.Header("x-content-type-options"), "nosniff");
  EXPECT_EQ(r.Header("cache-control"), "no-store");
  r = client.Request("GET", "/api/v1/runs/999");  // an error is JSON too
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Header("x-content-type-options"), "nosniff");
  EXPECT_EQ(r.Header("cache-control"), "no-store");
  r = client.Request("GET", "/metrics");
  EXPECT_EQ(r.Header("x-content-type-options"), "nosniff");
  r = client.Request("GET", "/");  // the UI keeps its own revalidation
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("cache-control"), "no-cache");
  EXPECT_EQ(r.Header("x-content-type-options"), "nosniff");
}

TEST_F(HttpServerTest, WrongMethodIs405WithAllow) {
  StartServer();
  Client client("127.0.0.1", server_->port());
  const ClientResult r = client.Request("DELETE", "/api/v1/runs");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("Allow"), "GET");
  EXPECT_EQ(json::parse(r.body).at("error").at("code"), "method_not_allowed");
}

TEST_F(HttpServerTest, WhenEveryConnectionIsBusyTheReserveAnswersOnlyProbes) {
  ServerOptions options;
  options.max_connections = 1;
  // Two: the second request may come before the first one's connection is released.
  options.reserved_connections = 2;
  StartServer(options);
  // An event stream holds the only slot of the pool (busy: not waiting for a header).
  const std::int64_t id = AddRun(store::RunStatus::kRunning);
  store_.AddEvent(id, TestEvent(1));
  Received received;
  auto stream = std::async(std::launch::async, [&] {
    Client client("127.0.0.1", server_->port());
    return client.StreamEvents(
        "/api/v1/runs/" + std::to_string(id) + "/events", 0,
        [&](std::int64_t seq, const std::string& type, const std::string&) {
          return received.Add(seq, type);
        }, 10s);
  });
  ASSERT_TRUE(received.WaitFor(1));

  Client probe("127.0.0.1", server_->port());
  ClientResult r = probe.Request("GET", "/healthz");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200) << r.body;
  r = probe.Request("GET", "/api/v1/suites");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(json::parse(r.body).at("error").at("code"), "unavailable");
  EXPECT_NE(r.body.find("/healthz"), std::string::npos) << r.body;
  EXPECT_EQ(probe.connections_opened(), 2) << "a reserve connection answers once and closes";

  api_.Publish(id, {RunEvent(2, "passed")});
  ASSERT_EQ(stream.wait_for(10s), std::future_status::ready);
  const std::string metrics = server_->Metrics();
  EXPECT_NE(metrics.find("handoff_http_connections_rejected_total{reason=\"probes_only\"} 1"),
            std::string::npos)
      << metrics;
}

TEST_F(HttpServerTest, BeyondThePoolAndTheReserveAConnectionGets503) {
  ServerOptions options;
  options.max_connections = 1;
  options.reserved_connections = 0;
  StartServer(options);
  const std::int64_t id = AddRun(store::RunStatus::kRunning);
  store_.AddEvent(id, TestEvent(1));
  Received received;
  auto stream = std::async(std::launch::async, [&] {
    Client client("127.0.0.1", server_->port());
    return client.StreamEvents(
        "/api/v1/runs/" + std::to_string(id) + "/events", 0,
        [&](std::int64_t seq, const std::string& type, const std::string&) {
          return received.Add(seq, type);
        }, 10s);
  });
  ASSERT_TRUE(received.WaitFor(1));
  const std::string answer = RawExchange("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(answer.empty() || answer.starts_with("HTTP/1.1 503")) << answer;
  api_.Publish(id, {RunEvent(2, "passed")});
  ASSERT_EQ(stream.wait_for(10s), std::future_status::ready);
  EXPECT_NE(server_->Metrics().find(
                "handoff_http_connections_rejected_total{reason=\"capacity\"} 1"),
            std::string::npos);
}

// A socket connected from `local` (any 127.x.y.z address is this host) that sends nothing.
std::unique_ptr<boost::asio::ip::tcp::socket> SilentConnection(boost::asio::io_context& ioc,
                                                               std::uint16_t port,
                                                               const char* local = "127.0.0.1") {
  auto socket = std::make_unique<boost::asio::ip::tcp::socket>(ioc);
  socket->open(boost::asio::ip::tcp::v4());
  socket->bind({boost::asio::ip::make_address(local), 0});
  socket->connect({boost::asio::ip::make_address("127.0.0.1"), port});
  return socket;
}

// Reads until the server closes `socket` (at most 10 s); returns what it sent.
std::string ReadUntilClosed(boost::asio::ip::tcp::socket& socket) {
  timeval tv{10, 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string answer;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::recv(socket.native_handle(), buffer, sizeof buffer, 0);
    if (n <= 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  return answer;
}

TEST_F(HttpServerTest, ConnectionsWaitingForTheirHeaderMakeRoomAndTimeOut) {
  ServerOptions options;
  options.max_connections = 4;
  options.reserved_connections = 0;
  options.header_timeout = 300ms;
  StartServer(options);
  boost::asio::io_context ioc;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> silent;
  for (int i = 0; i < 4; ++i) silent.push_back(SilentConnection(ioc, server_->port(), "127.0.0.2"));
  // The pool is full of connections that send nothing: a prompt client still gets in.
  Client client("127.0.0.1", server_->port());
  const ClientResult r = client.Request("GET", "/api/v1/suites");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  // Each silent connection is closed: one for room, the others at the header deadline
  // (the deadline closes the socket before the session counts it: poll).
  for (auto& socket : silent) EXPECT_EQ(ReadUntilClosed(*socket), "");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::string metrics = server_->Metrics();
  while (metrics.find("handoff_http_connections_rejected_total{reason=\"header_timeout\"} 3") ==
             std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);  // a poll interval, not a wait for something
    metrics = server_->Metrics();
  }
  EXPECT_NE(
      metrics.find("handoff_http_connections_rejected_total{reason=\"header_timeout\"} 3"),
      std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("handoff_http_connections_rejected_total{reason=\"evicted\"} 1"),
            std::string::npos)
      << metrics;
}

TEST_F(HttpServerTest, AClientBeyondItsConnectionLimitGets503OthersAreServed) {
  ServerOptions options;
  options.max_connections_per_client = 2;
  StartServer(options);
  boost::asio::io_context ioc;
  auto a = SilentConnection(ioc, server_->port(), "127.0.0.3");
  auto b = SilentConnection(ioc, server_->port(), "127.0.0.3");
  auto c = SilentConnection(ioc, server_->port(), "127.0.0.3");
  const std::string refused = ReadUntilClosed(*c);
  EXPECT_TRUE(refused.empty() || refused.starts_with("HTTP/1.1 503")) << refused;
  if (!refused.empty()) EXPECT_NE(refused.find("from this client"), std::string::npos);
  Client other("127.0.0.1", server_->port());
  EXPECT_EQ(other.Request("GET", "/healthz").status, 200);
  EXPECT_NE(server_->Metrics().find(
                "handoff_http_connections_rejected_total{reason=\"per_client_limit\"} 1"),
            std::string::npos);
  EXPECT_NE(server_->Metrics().find("handoff_http_connections{pool=\"general\"} 3"),
            std::string::npos)
      << server_->Metrics();
}

TEST_F(HttpServerTest, ClientReportsConnectionRefused) {
  StartServer();
  const std::uint16_t port = server_->port();
  server_->Stop();
  Client client("127.0.0.1", port);
  const ClientResult r = client.Request("GET", "/healthz", {}, {}, 2s);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("connection refused"), std::string::npos) << r.error;
}

TEST(ParseUrlTest, SplitsHostPortAndBase) {
  std::string error;
  std::optional<Url> url = ParseUrl("http://example.com:9090/handoff/", &error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->host, "example.com");
  EXPECT_EQ(url->port, 9090);
  EXPECT_EQ(url->base, "/handoff");
  url = ParseUrl("http://[::1]", &error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->base, "");
  EXPECT_FALSE(ParseUrl("ftp://x", &error));
  EXPECT_FALSE(ParseUrl("http://x:0", &error));
  EXPECT_FALSE(ParseUrl("http://:80", &error));
}

TEST_F(HttpServerTest, StreamsTheJournalThenLiveEventsAndEndsWithTheRun) {
  StartServer();
  const std::int64_t id = AddRun(store::RunStatus::kRunning);
  store_.AddEvent(id, RunEvent(1, "running"));
  store_.AddEvent(id, TestEvent(2));
  const std::string target = "/api/v1/runs/" + std::to_string(id) + "/events";

  Received received;
  auto stream = std::async(std::launch::async, [&] {
    Client client("127.0.0.1", server_->port());
    return client.StreamEvents(target, 0, [&](std::int64_t seq, const std::string& type,
                                              const std::string&) {
      return received.Add(seq, type);
    }, 10s);
  });
  ASSERT_TRUE(received.WaitFor(2));
  // Subscribed before the journal was read: live events now reach the stream; a
  // duplicate of one already sent is skipped.
  api_.Publish(id, {TestEvent(2), TestEvent(3)});
  store_.SetStatus(id, store::RunStatus::kPassed);
  api_.Publish(id, {RunEvent(4, "passed")});
  ASSERT_EQ(stream.wait_for(10s), std::future_status::ready);
  const StreamResult result = stream.get();
  EXPECT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.last_event_id, 4);
  EXPECT_EQ(received.Ids(), (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(received.types.back(), "run");

  // Resuming after event 2 sends the rest of the journal; the run is over, so it ends.
  Received resumed;
  Client client("127.0.0.1", server_->port());
  const StreamResult again = client.StreamEvents(
      target, 2, [&](std::int64_t seq, const std::string& type, const std::string&) {
        return resumed.Add(seq, type);
      }, 10s);
  EXPECT_TRUE(again.ok()) << again.error;
  EXPECT_EQ(resumed.Ids(), (std::vector<std::int64_t>{3, 4}));
}

TEST_F(HttpServerTest, StreamOfAFinishedRunSendsTheJournalAndCloses) {
  StartServer();
  const std::int64_t id = AddRun(store::RunStatus::kFailed);
  for (int seq = 1; seq <= 1200; ++seq) store_.AddEvent(id, TestEvent(seq));  // several pages
  Client client("127.0.0.1", server_->port());
  std::int64_t count = 0;
  const StreamResult result = client.StreamEvents(
      "/api/v1/runs/" + std::to_string(id) + "/events", 0,
      [&](std::int64_t seq, const std::string&, const std::string& data) {
        EXPECT_EQ(seq, count + 1);
        EXPECT_EQ(data, R"({"name":"Card","status":"running"})");
        ++count;
        return true;
      }, 10s);
  EXPECT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(count, 1200);
  EXPECT_EQ(api_.Subscribers(id), 0);
}

TEST_F(HttpServerTest, StreamOfAnUnknownRunIs404) {
  StartServer();
  Client client("127.0.0.1", server_->port());
  const StreamResult result = client.StreamEvents(
      "/api/v1/runs/77/events", 0, [](std::int64_t, const std::string&, const std::string&) {
        return true;
      }, 10s);
  EXPECT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.status, 404);
  EXPECT_EQ(json::parse(result.body).at("error").at("code"), "not_found");
}

TEST_F(HttpServerTest, AStreamThatFallsTooFarBehindIsDisconnectedAndResumes) {
  ServerOptions options;
  options.sse_max_lag_bytes = 4096;
  StartServer(options);
  const std::int64_t id = AddRun(store::RunStatus::kRunning);
  store_.AddEvent(id, TestEvent(1));
  const std::string target = "/api/v1/runs/" + std::to_string(id) + "/events";
  // A client that stops reading after its first event, until the test releases it.
  Received received;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto stream = std::async(std::launch::async, [&] {
    Client client("127.0.0.1", server_->port());
    return client.StreamEvents(target, 0, [&](std::int64_t seq, const std::string& type,
                                              const std::string&) {
      received.Add(seq, type);
      released.wait();
      return true;
    }, 30s);
  });
  ASSERT_TRUE(received.WaitFor(1));
  // Batches of live events, small ones (any one fits the bound), until the server gives up
  // on the client: the socket buffers fill, then 4 KiB wait in the server.
  std::int64_t seq = 1;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  const std::string dropped = "handoff_http_connections_rejected_total{reason=\"stream_lag\"} 1";
  while (server_->Metrics().find(dropped) == std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "never dropped";
    std::vector<store::RunEvent> batch;
    for (int i = 0; i < 10; ++i) batch.push_back(TestEvent(++seq));
    api_.Publish(id, batch);
  }
  release.set_value();
  ASSERT_EQ(stream.wait_for(20s), std::future_status::ready);
  EXPECT_TRUE(stream.get().ok());
  const std::vector<std::int64_t> before = received.Ids();
  ASSERT_FALSE(before.empty());
  EXPECT_LT(before.back(), seq) << "the client was cut off before the end";
  for (std::size_t i = 0; i < before.size(); ++i) {
    ASSERT_EQ(before[i], static_cast<std::int64_t>(i + 1));
  }
  EXPECT_EQ(api_.Subscribers(id), 0);

  // It resumes after the last event it got, and gets the rest, once each, to the run's end.
  Received rest;
  auto resumed = std::async(std::launch::async, [&] {
    Client client("127.0.0.1", server_->port());
    return client.StreamEvents(target, before.back(), [&](std::int64_t s, const std::string& type,
                                                          const std::string&) {
      return rest.Add(s, type);
    }, 30s);
  });
  ASSERT_TRUE(rest.WaitFor(static_cast<std::size_t>(seq - before.back())));
  store_.SetStatus(id, store::RunStatus::kPassed);
  api_.Publish(id, {RunEvent(seq + 1, "passed")});
  ASSERT_EQ(resumed.wait_for(20s), std::future_status::ready);
  EXPECT_TRUE(resumed.get().ok());
  const std::vector<std::int64_t> after = rest.Ids();
  ASSERT_EQ(after.size(), static_cast<std::size_t>(seq + 1 - before.back()));
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i], before.back() + 1 + static_cast<std::int64_t>(i));
  }
}

TEST_F(HttpServerTest, StopEndsOpenStreamsPromptly) {
  ServerOptions options;
  options.sse_keepalive = 20ms;  // exercises keepalive comments while the stream is idle
  StartServer(options);
  const std::int64_t id = AddRun(store::RunStatus::kRunning);
  store_.AddEvent(id, TestEvent(1));
  Received received;
  auto stream = std::async(std::launch::async, [&] {
    Client client("127.0.0.1", server_->port());
    return client.StreamEvents(
        "/api/v1/runs/" + std::to_string(id) + "/events", 0,
        [&](std::int64_t seq, const std::string& type, const std::string&) {
          return received.Add(seq, type);
        }, 10s);
  });
  ASSERT_TRUE(received.WaitFor(1));
  // An idle kept-alive connection too.
  Client idle("127.0.0.1", server_->port());
  ASSERT_EQ(idle.Request("GET", "/healthz").status, 200);

  auto stopped = std::async(std::launch::async, [&] { server_->Stop(); });
  // Stop waits at most 5 s for sessions; well under that means they ended by themselves.
  ASSERT_EQ(stopped.wait_for(3s), std::future_status::ready);
  ASSERT_EQ(stream.wait_for(10s), std::future_status::ready);
  stream.get();
  EXPECT_EQ(api_.Subscribers(id), 0);
}

}  // namespace
}  // namespace handoff::http
