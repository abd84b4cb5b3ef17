#pragma once

// What the Docker tests share: the engine (DOCKER_HOST or /var/run/docker.sock), the skip
// or failure when there is none (HANDOFF_REQUIRE_DOCKER=1 makes it a failure), unique
// names, labels, the busybox image, and a fixture that removes what a test made.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "workload/docker_client.h"

namespace handoff::workload::testing {

// The label on everything the tests make, so leftovers can be found: handoff.test=1.
inline constexpr std::string_view kTestLabel = "handoff.test=1";

// Returns true if and only if HANDOFF_REQUIRE_DOCKER=1: then a missing engine fails tests.
bool DockerRequired();

// Returns why no engine answers ("" when one does). Pings once per process.
const std::string& EngineUnavailable();

// Returns the engine's client (only when EngineUnavailable() is "").
DockerClient& Engine();

// Returns a name no other test or process uses: "handoff-test-<what>-<pid>-<n>".
std::string UniqueName(std::string_view what);

// Returns the busybox image built from /bin/busybox with BuildBusyboxImage, building it on
// the first call; "" with *error set when that failed.
const std::string& BusyboxImage(std::string* error);

// Calls `condition` every 50 ms until it returns true or `timeout` passes; returns its last
// answer.
bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// Skips the test when no engine answers, or fails it when HANDOFF_REQUIRE_DOCKER=1.
#define HANDOFF_NEED_DOCKER()                                                       \
  do {                                                                              \
    if (const std::string& why = ::handoff::workload::testing::EngineUnavailable(); \
        !why.empty()) {                                                             \
      if (::handoff::workload::testing::DockerRequired()) {                         \
        FAIL() << why << " (HANDOFF_REQUIRE_DOCKER=1 requires an engine)";          \
      }                                                                             \
      GTEST_SKIP() << why;                                                          \
    }                                                                               \
  } while (0)

// A test that needs the engine. Everything it makes through Labels() is removed after it.
class DockerTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  DockerClient& engine() { return Engine(); }
  // handoff.test=1 plus a label of this test alone.
  Labels TestLabels() const;
  // The label that selects what this test made: "handoff.test.case=<unique>".
  const std::string& case_label() const { return case_label_; }

  // Creates and starts a container of the busybox image running `cmd` with this test's
  // labels; returns its id, or "" after a failed assertion.
  std::string RunBusybox(const std::vector<std::string>& cmd, ContainerSpec spec = {});

 private:
  std::string case_value_;
  std::string case_label_;
};

}  // namespace handoff::workload::testing
