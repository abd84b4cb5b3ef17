// The workload API (handoff/workload.h) in both environments: two Prometheus servers that
// scrape themselves, started by the test as local processes and as Docker containers. It
// links with handoff::handoff_main, which provides main().
//
//   prometheus_pair run                           both tests; Docker skips without an engine
//   prometheus_pair run --run '^Process$'         only the process environment
//   HANDOFF_REQUIRE_DOCKER=1 prometheus_pair run  no Docker engine fails instead of skipping
//
// The Prometheus runnables run Debian's /usr/bin/prometheus (package prometheus): on the
// host, or in an image the library builds from it (no registry needed).

#include <arpa/inet.h>
#include <fmt/format.h>
#include <handoff/handoff.h>
#include <handoff/workload.h>
#include <handoff/workload_services.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

namespace wl = handoff::workload;
using namespace std::chrono_literals;

// What an HTTP GET got: an error, or the response's status and body.
struct HttpAnswer {
  std::string error;  // empty when a response arrived
  int status = 0;
  std::string body;
};

// GETs `path` from `endpoint` ("127.0.0.1:9090", what Runnable::Endpoint returns) over
// HTTP/1.0, so the server closes the connection after the body. Each step may take 5 s
// and the response at most 4 MiB.
HttpAnswer HttpGet(const std::string& endpoint, const std::string& path) {
  const std::size_t colon = endpoint.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::atoi(endpoint.c_str() + colon + 1)));
  if (colon == std::string::npos ||
      ::inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    return {.error = "not an IPv4 host:port: \"" + endpoint + "\""};
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {.error = "socket failed"};
  const timeval limit{.tv_sec = 5, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  HttpAnswer answer;
  std::string response;
  const std::string request = fmt::format("GET {} HTTP/1.0\r\nHost: {}\r\n\r\n", path, endpoint);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    answer.error = fmt::format("connect to {}: {}", endpoint, std::strerror(errno));
  } else if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
             static_cast<ssize_t>(request.size())) {
    answer.error = fmt::format("send to {}: {}", endpoint, std::strerror(errno));
  } else {
    char buf[16384];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0 && response.size() < (4 << 20)) {
      response.append(buf, static_cast<std::size_t>(n));
    }
    if (n < 0) answer.error = fmt::format("read from {}: {}", endpoint, std::strerror(errno));
  }
  ::close(fd);
  if (!answer.error.empty()) return answer;
  // "HTTP/1.1 200 OK\r\n<headers>\r\n\r\n<body>"
  const std::size_t body = response.find("\r\n\r\n");
  if (!response.starts_with("HTTP/1.") || response.size() < 12 || body == std::string::npos) {
    return {.error = fmt::format("{}: not an HTTP response: {:?}", endpoint, response.substr(0, 80))};
  }
  answer.status = std::atoi(response.c_str() + 9);
  answer.body = response.substr(body + 4);
  return answer;
}

// Queries `up` through the Prometheus HTTP API and fails the test unless the query
// succeeds with the series of the server's own target, as other runnables reach it, at 1.
void ExpectUp(handoff::T& t, const wl::Runnable& prometheus) {
  const HttpAnswer got = HttpGet(prometheus.Endpoint("http"), "/api/v1/query?query=up");
  if (!got.error.empty()) {
    t.Errorf("{}: {}", prometheus.Name(), got.error);
    return;
  }
  // {"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up",
  //  "instance":"prom-a:41235","job":"prometheus"},"value":[1763894400.5,"1"]}]}}
  const std::string self = fmt::format(R"("instance":"{}")", prometheus.InternalEndpoint("http"));
  if (got.status != 200 || got.body.find(R"("status":"success")") == std::string::npos ||
      got.body.find(self) == std::string::npos || got.body.find(R"(,"1"])") == std::string::npos) {
    t.Errorf("{}: up: HTTP {} {}, want success and {} at 1", prometheus.Name(), got.status,
             got.body, self);
  }
}

}  // namespace

// [docs:prometheus-pair]
// Two Prometheus servers scrape themselves; the test waits until each has stored more
// than 50 samples, queries both, stops one and checks that the other still answers.
void PrometheusPair(handoff::T& t, wl::Environment& env) {
  t.Logf("environment {}", env.Name());
  auto a = wl::NewPrometheus(env, "prom-a", {.scrape_interval = 500ms});
  auto b = wl::NewPrometheus(env, "prom-b", {.scrape_interval = 500ms});
  if (wl::Status st = wl::StartAndWaitReady({a, b}); !st) t.Fatal(st.message());

  for (const auto& prometheus : {a, b}) {
    // The counter has a label, so it appears with the first scrape: wait for it.
    wl::Status st = prometheus->WaitSumMetrics(
        wl::Greater(50), {"prometheus_tsdb_head_samples_appended_total"},
        {.wait_missing = true, .deadline = 60s});
    if (!st) t.Fatal(st.message());
    ExpectUp(t, *prometheus);  // GET /api/v1/query?query=up from the test
  }

  const std::string stopped = a->Endpoint("http");
  if (wl::Status st = a->Stop(); !st) t.Fatal(st.message());
  if (a->IsRunning()) t.Error("prom-a runs after Stop");
  if (HttpGet(stopped, "/-/ready").error.empty()) t.Errorf("prom-a answers at {}", stopped);
  ExpectUp(t, *b);
}

HANDOFF_SUITE(PrometheusPair) { suite.timeout = 3min; }

HANDOFF_TEST(PrometheusPair, Process) {
  auto env = wl::Environment::NewProcess(t);  // closed by the test's cleanup
  PrometheusPair(t, *env);
}

HANDOFF_TEST(PrometheusPair, Docker) {
  if (wl::Status engine = wl::Environment::DockerAvailable(); !engine) {
    const char* required = std::getenv("HANDOFF_REQUIRE_DOCKER");
    if (required != nullptr && std::string_view(required) == "1") {
      t.Fatalf("HANDOFF_REQUIRE_DOCKER=1 and {}", engine.message());
    }
    t.Skipf("{} (HANDOFF_REQUIRE_DOCKER=1 makes this a failure)", engine.message());
  }
  auto env = wl::Environment::NewDocker(t);  // closed by the test's cleanup
  PrometheusPair(t, *env);
}
// [docs:end]
