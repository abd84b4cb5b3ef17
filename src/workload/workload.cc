// What every environment shares: probes, the builder and future runnables, metrics on
// runnables, StartAndWaitReady, and small helpers (names, free ports, TCP probes).

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <atomic>
#include <future>

#include "event/attachment.h"
#include "handoff/internal/hooks.h"
#include "handoff/t.h"
#include "handoff/workload.h"
#include "workload/internal.h"
#include "workload/metric_wait.h"

namespace handoff::workload {

std::string Sanitize(std::string_view text, std::size_t max) {
  std::string out;
  for (const char c : text) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out += keep ? static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c) : '-';
  }
  while (out.find("--") != std::string::npos) out.replace(out.find("--"), 2, "-");
  while (!out.empty() && out.front() == '-') out.erase(0, 1);
  if (out.size() > max) out.resize(max);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "env" : out;
}

std::string ReadLines(int fd, const std::function<void(std::string_view)>& on_line) {
  std::string pending;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      on_line(std::string_view(pending).substr(start, nl - start));
    }
    pending.erase(0, start);
  }
  return pending;
}

std::string UniqueEnvironmentName(std::string_view name) {
  static std::atomic<int> made{0};
  return fmt::format("{}-{}-{}", name, ::getpid(), made.fetch_add(1));
}

std::string TestEnvironmentName(T& t) {
  const std::string& suite = internal::SuiteName(t);
  const std::string test = Sanitize(t.Name());
  return UniqueEnvironmentName(suite.empty() ? test : Sanitize(suite, 24) + "-" + test);
}

namespace {

// True if nothing holds TCP `port` on any address (0 asks the kernel for one); the port
// bound is stored in `*bound`.
bool BindsOnEveryAddress(int port, int* bound) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  if (ok) *bound = ntohs(addr.sin_port);
  ::close(fd);
  return ok;
}

// The first port the kernel gives outgoing connections (net.ipv4.ip_local_port_range).
int EphemeralLow() {
  std::FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
  int low = 32768;
  if (f != nullptr) {
    if (std::fscanf(f, "%d", &low) != 1) low = 32768;
    std::fclose(f);
  }
  return low;
}

}  // namespace

int FreePort() {
  // A port the kernel hands out for bind(0) is one it also hands to outgoing connections,
  // which can take it between this check and the runnable's own bind (a busy machine did:
  // "address already in use"). Below that range only another FreePort competes, and a
  // random pick among thousands of ports rarely meets it.
  const int low = EphemeralLow();
  constexpr int kFirst = 10000;
  if (low - kFirst >= 1000) {
    static std::atomic<unsigned> sequence{0};
    std::minstd_rand random(static_cast<unsigned>(::getpid()) * 7919u +
                            sequence.fetch_add(1) * 104729u +
                            static_cast<unsigned>(
                                std::chrono::steady_clock::now().time_since_epoch().count()));
    std::uniform_int_distribution<int> pick(kFirst, low - 1);
    for (int attempt = 0; attempt < 64; ++attempt) {
      int bound = 0;
      if (BindsOnEveryAddress(pick(random), &bound)) return bound;
    }
  }
  int bound = 0;
  return BindsOnEveryAddress(0, &bound) ? bound : 0;
}

bool TcpConnects(const std::string& host, int port, std::chrono::milliseconds timeout,
                 std::string* why) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    *why = fmt::format("{} is not an IPv4 address", host);
    return false;
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *why = std::strerror(errno);
    return false;
  }
  int err = 0;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (n == 0) {
        err = ETIMEDOUT;
      } else {
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
    }
  }
  ::close(fd);
  if (err != 0) *why = fmt::format("connect {}:{}: {}", host, port, std::strerror(err));
  return err == 0;
}

bool ProbeCommandOnce(Runnable& runnable, const Probe& probe, std::string* last) {
  const ExecResult r = runnable.Exec(probe.argv(), std::nullopt);
  if (r.status && r.exit_code == 0) return true;
  *last = r.status ? fmt::format("command exited {}: {}{}", r.exit_code, r.out, r.err)
                   : r.status.message();
  return false;
}

std::vector<std::string> PortNames(const std::map<std::string, int>& ports) {
  std::vector<std::string> names;
  for (const auto& [name, port] : ports) names.push_back(name);
  return names;
}

int PortOf(const std::map<std::string, int>& ports, std::string_view name) {
  const auto it = ports.find(std::string(name));
  return it == ports.end() ? 0 : it->second;
}

// ---------------------------------------------------------------------------------------
// Probe

Probe Probe::Http(std::string port, std::string path, int min_status, int max_status,
                  std::vector<std::string> body_contains) {
  Probe p;
  p.kind_ = Kind::kHttp;
  p.port_ = std::move(port);
  p.path_ = std::move(path);
  p.min_status_ = min_status;
  p.max_status_ = max_status;
  p.body_contains_ = std::move(body_contains);
  return p;
}

Probe Probe::Https(std::string port, std::string path, int min_status, int max_status,
                   std::vector<std::string> body_contains) {
  Probe p = Http(std::move(port), std::move(path), min_status, max_status,
                 std::move(body_contains));
  p.kind_ = Kind::kHttps;
  return p;
}

Probe Probe::Tcp(std::string port) {
  Probe p;
  p.kind_ = Kind::kTcp;
  p.port_ = std::move(port);
  return p;
}

Probe Probe::Command(std::vector<std::string> argv) {
  Probe p;
  p.kind_ = Kind::kCommand;
  p.argv_ = std::move(argv);
  return p;
}

// ---------------------------------------------------------------------------------------
// Builder and future

RunnableBuilder& RunnableBuilder::WithPorts(std::map<std::string, int> ports) {
  ports_ = std::move(ports);
  return *this;
}

FutureRunnable RunnableBuilder::Future() {
  return FutureRunnable(env_, name_, env_->ResolvePorts(name_, ports_));
}

FutureRunnable::FutureRunnable(Environment* env, std::string name,
                               std::map<std::string, int> ports)
    : env_(env), name_(std::move(name)), ports_(std::move(ports)) {
  dir_ = env_->RunnableDir(name_);
}

int FutureRunnable::InternalPort(std::string_view port) const { return PortOf(ports_, port); }

std::string FutureRunnable::InternalPortText(std::string_view port) const {
  return std::to_string(InternalPort(port));
}

std::string FutureRunnable::InternalEndpoint(std::string_view port) const {
  return fmt::format("{}:{}", env_->InternalHost(name_), InternalPort(port));
}

std::shared_ptr<Runnable> FutureRunnable::Init(StartOptions options) {
  if (options.trace_context && options.env.count("TRACEPARENT") == 0) {
    if (T* t = internal::CurrentTest(); t != nullptr && !t->TraceParent().empty()) {
      options.env["TRACEPARENT"] = t->TraceParent();
    }
  }
  return env_->Define(*this, std::move(options));
}

// ---------------------------------------------------------------------------------------
// Metrics

namespace {

// Splits "host:port".
bool SplitEndpoint(const std::string& endpoint, std::string* host, int* port) {
  const std::size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return false;
  *host = endpoint.substr(0, colon);
  *port = std::atoi(endpoint.c_str() + colon + 1);
  return *port > 0;
}

// Returns a scraper of the runnable's metrics endpoint, or sets *error.
std::function<Scrape()> Scraper(const Runnable& r, std::string* error) {
  const StartOptions& o = r.Options();
  if (o.metrics_port.empty()) {
    *error = fmt::format("{}: no metrics port (StartOptions::metrics_port)", r.Name());
    return nullptr;
  }
  const std::vector<std::string> ports = r.PortNames();
  if (std::find(ports.begin(), ports.end(), o.metrics_port) == ports.end()) {
    *error = fmt::format("{}: metrics port \"{}\" is not one of its ports", r.Name(),
                         o.metrics_port);
    return nullptr;
  }
  return [&r] {
    Scrape scrape;
    std::string host;
    int port = 0;
    if (!SplitEndpoint(r.Endpoint(r.Options().metrics_port), &host, &port)) {
      scrape.error = "not started";
      return scrape;
    }
    std::string why;
    if (auto body = HttpGet(host, port, r.Options().metrics_path, &why)) {
      scrape.body = std::move(*body);
    } else {
      scrape.error = why;
    }
    return scrape;
  };
}

}  // namespace

Status Runnable::SumMetrics(const std::vector<std::string>& names, std::vector<double>* sums,
                            const MetricWaitOptions& options) {
  sums->clear();
  std::string error;
  const std::function<Scrape()> scrape = Scraper(*this, &error);
  if (!scrape) return Status::Error(error);
  std::optional<SeriesSelector> selector = SeriesSelector::Compile(options.matchers, &error);
  if (!selector) return Status::Error(error);
  const Scrape answer = scrape();
  if (!answer.error.empty()) {
    return Status::Error(fmt::format("{}: scraping {}{}: {}", Name(), Options().metrics_port,
                                     Options().metrics_path, answer.error));
  }
  const std::optional<std::vector<MetricFamily>> families = ParsePromText(answer.body, &error);
  if (!families) {
    return Status::Error(fmt::format("{}: the scraped metrics do not parse: {}", Name(), error));
  }
  for (const std::string& name : names) {
    const std::optional<double> sum =
        SumMetric(*families, name, *selector, options.count_instead_of_sum);
    if (sum) {
      sums->push_back(*sum);
    } else if (!options.skip_missing) {
      return Status::Error(
          fmt::format("{}: metric {}{} not found", Name(), name, selector->Describe()));
    }
  }
  return {};
}

Status Runnable::WaitSumMetrics(const MetricExpectation& expectation,
                                const std::vector<std::string>& names,
                                const MetricWaitOptions& options) {
  std::string error;
  const std::function<Scrape()> scrape = Scraper(*this, &error);
  if (!scrape) return Status::Error(error);
  const MetricWaitResult r = WaitMetrics(scrape, expectation, names, options);
  if (!r.ok) return Status::Error(fmt::format("{}: {}", Name(), r.message));
  return {};
}

// ---------------------------------------------------------------------------------------

Status StartAndWaitReady(const std::vector<std::shared_ptr<Runnable>>& runnables) {
  std::vector<std::future<Status>> results;
  for (const auto& r : runnables) {
    results.push_back(std::async(std::launch::async, [r] {
      if (Status st = r->Start(); !st) return st;
      return r->WaitReady();
    }));
  }
  Status first;
  for (auto& f : results) {
    Status st = f.get();
    if (!st && first) first = st;
  }
  return first;
}

Status WaitUntilReady(const std::string& name, const StartOptions& options,
                      const std::function<Status()>& gone,
                      const std::function<bool(std::string* last)>& probe_once,
                      const std::function<void(std::chrono::milliseconds)>& wait) {
  const Backoff& b = options.wait_backoff;
  const auto deadline = std::chrono::steady_clock::now() + b.deadline;
  auto delay = b.initial;
  std::string last = "not probed yet";
  int probes = 0;
  for (;;) {
    if (Status st = gone(); !st.ok()) return st;
    if (!options.readiness) return {};
    ++probes;
    if (probe_once(&last)) return {};
    if (std::chrono::steady_clock::now() + delay > deadline) {
      return Status::Error(fmt::format("{}: not ready after {} probes in {} ms: {}", name, probes,
                                       b.deadline.count(), last));
    }
    wait(delay);
    delay = std::min(b.max, std::chrono::milliseconds(static_cast<std::int64_t>(
                                static_cast<double>(delay.count()) * b.multiplier)));
  }
}

void TestLogs::AttachIfFailed() const {
  if (test == nullptr) return;
  T t(test);
  if (!t.Failed()) return;
  for (const auto& [runnable, dir] : runnables) {
    std::FILE* log = std::fopen((dir + "/output.log").c_str(), "rb");
    if (log == nullptr) continue;  // it never started
    std::string tail;
    long skipped = 0;
    if (std::fseek(log, 0, SEEK_END) == 0) {
      const long size = std::ftell(log);
      skipped = std::max(0L, size - static_cast<long>(kLogTailBytes));
      std::fseek(log, skipped, SEEK_SET);
      tail.resize(static_cast<std::size_t>(size - skipped));
      tail.resize(std::fread(tail.data(), 1, tail.size(), log));
    }
    std::fclose(log);
    if (skipped > 0) {
      // Whole lines only, after a note of what was left out.
      const std::size_t newline = tail.find('\n');
      const std::size_t cut = newline == std::string::npos ? 0 : newline + 1;
      tail = fmt::format("[handoff: the first {} bytes of {}'s output are not attached]\n",
                         skipped + static_cast<long>(cut), runnable) +
             tail.substr(cut);
    }
    std::string name = "runnable-" + runnable + ".log";
    if (!CheckAttachmentName(name).empty()) name = "runnable-" + Sanitize(runnable) + ".log";
    t.Attach(name, tail, "text/plain");
  }
}

void OutputLines::Open(const std::string& dir) {
  Close();
  log_ = std::fopen((dir + "/output.log").c_str(), "a");
}

void OutputLines::Close() {
  if (log_ != nullptr) std::fclose(log_);
  log_ = nullptr;
}

void OutputLines::Add(std::string_view line) {
  const std::string text = fmt::format("{}: {}\n", name_, line);
  (void)!::write(2, text.data(), text.size());
  if (log_ != nullptr) {
    std::fwrite(line.data(), 1, line.size(), log_);
    std::fputc('\n', log_);
    std::fflush(log_);
  }
  std::lock_guard lock(mu_);
  last_.emplace_back(line);
  if (last_.size() > kKept) last_.pop_front();
}

std::vector<std::string> OutputLines::Last() const {
  std::lock_guard lock(mu_);
  return {last_.begin(), last_.end()};
}

}  // namespace handoff::workload
