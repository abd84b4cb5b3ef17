#include "http/connection_limits.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace handoff::http {
namespace {

using namespace std::chrono_literals;

// A reporter whose log goes to a temporary file and whose clock the test moves.
class ConnectionLimitsTest : public ::testing::Test {
 protected:
  ConnectionLimitsTest()
      : file_(std::tmpfile()),
        log_(false, file_),
        reporter_(registry_, &log_, 10s, [this] { return now_; }) {}
  ~ConnectionLimitsTest() override { std::fclose(file_); }

  std::string Log() {
    std::fflush(file_);
    std::rewind(file_);
    std::string text;
    char buffer[4096];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, file_)) > 0) text.append(buffer, n);
    return text;
  }

  static int Lines(const std::string& text) {
    int n = 0;
    for (char c : text) n += c == '\n';
    return n;
  }

  std::FILE* file_;
  ServerLog log_;
  metrics::Registry registry_;
  std::chrono::steady_clock::time_point now_{};
  LimitReporter reporter_;
};

TEST_F(ConnectionLimitsTest, AClientBeyondItsShareIsRefusedOthersAreNot) {
  ConnectionLimits limits({.max_connections = 10, .per_client = 2, .reserved = 0}, reporter_);
  EXPECT_TRUE(limits.Admit(1, "10.0.0.1").admitted);
  EXPECT_TRUE(limits.Admit(2, "10.0.0.1").admitted);
  const ConnectionLimits::Admission third = limits.Admit(3, "10.0.0.1");
  EXPECT_FALSE(third.admitted);
  EXPECT_EQ(third.reason, LimitReason::kPerClientLimit);
  EXPECT_TRUE(limits.Admit(4, "10.0.0.2").admitted);
  // A connection that ends gives its client the room back.
  limits.Release(1);
  EXPECT_TRUE(limits.Admit(5, "10.0.0.1").admitted);
  EXPECT_EQ(reporter_.Count(LimitReason::kPerClientLimit), 1);
  EXPECT_EQ(limits.general(), 3u);
}

TEST_F(ConnectionLimitsTest, AFullPoolEvictsTheConnectionWaitingLongestForItsHeader) {
  ConnectionLimits limits({.max_connections = 3, .per_client = 10, .reserved = 0}, reporter_);
  ASSERT_TRUE(limits.Admit(1, "a").admitted);
  ASSERT_TRUE(limits.Admit(2, "b").admitted);
  ASSERT_TRUE(limits.Admit(3, "c").admitted);
  limits.HeaderReceived(1);  // busy: never evicted
  ConnectionLimits::Admission fourth = limits.Admit(4, "d");
  EXPECT_TRUE(fourth.admitted);
  EXPECT_FALSE(fourth.reserve);
  EXPECT_EQ(fourth.evict, 2u);
  EXPECT_EQ(limits.general(), 3u);
  // The evicted connection's release, when its close completes, counts nothing twice.
  limits.Release(2);
  EXPECT_EQ(limits.general(), 3u);
  // A kept-alive connection waiting for its next request joins the end of the line.
  limits.HeaderReceived(3);
  limits.HeaderReceived(4);
  limits.AwaitingHeader(1);
  limits.AwaitingHeader(3);
  EXPECT_EQ(limits.Admit(5, "e").evict, 1u);
  EXPECT_EQ(reporter_.Count(LimitReason::kEvicted), 2);
}

TEST_F(ConnectionLimitsTest, ABusyPoolLeavesTheReserveThenRefuses) {
  ConnectionLimits limits({.max_connections = 1, .per_client = 10, .reserved = 1}, reporter_);
  ASSERT_TRUE(limits.Admit(1, "a").admitted);
  limits.HeaderReceived(1);
  const ConnectionLimits::Admission probe = limits.Admit(2, "b");
  EXPECT_TRUE(probe.admitted);
  EXPECT_TRUE(probe.reserve);
  EXPECT_EQ(probe.evict, 0u);
  // A connection on the reserve is never evicted for another.
  const ConnectionLimits::Admission third = limits.Admit(3, "c");
  EXPECT_FALSE(third.admitted);
  EXPECT_EQ(third.reason, LimitReason::kCapacity);
  limits.Release(2);
  EXPECT_EQ(limits.reserve(), 0u);
  EXPECT_TRUE(limits.Admit(4, "c").reserve);
}

TEST_F(ConnectionLimitsTest, HitsAreCountedAndLoggedAtMostOnceAnIntervalPerReason) {
  for (int i = 0; i < 100; ++i) reporter_.Hit(LimitReason::kHeaderTimeout, "10.0.0.9");
  reporter_.Hit(LimitReason::kCapacity, "10.0.0.8");
  EXPECT_EQ(reporter_.Count(LimitReason::kHeaderTimeout), 100);
  std::string log = Log();
  EXPECT_EQ(Lines(log), 2) << log;
  EXPECT_NE(log.find("WARN connection closed: no request header within the header timeout "
                     "reason=header_timeout client=10.0.0.9"),
            std::string::npos)
      << log;
  now_ += 10s;
  reporter_.Hit(LimitReason::kHeaderTimeout, "10.0.0.7");
  log = Log();
  EXPECT_EQ(Lines(log), 3) << log;
  EXPECT_NE(log.find("client=10.0.0.7 not_logged=99"), std::string::npos) << log;

  const std::string text = registry_.Render(false);
  EXPECT_NE(text.find("handoff_http_connections_rejected_total{reason=\"header_timeout\"} 101"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("handoff_http_connections_rejected_total{reason=\"per_client_limit\"} 0"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace handoff::http
