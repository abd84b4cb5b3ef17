#include "docker/docker_test_env.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <optional>
#include <thread>

#include "workload/image_builder.h"

namespace handoff::workload::testing {
namespace {

std::optional<DockerClient>& Client(std::string* error) {
  static std::optional<DockerClient> client = DockerClient::FromEnvironment(error);
  return client;
}

}  // namespace

bool DockerRequired() {
  const char* value = std::getenv("HANDOFF_REQUIRE_DOCKER");
  return value != nullptr && std::string_view(value) == "1";
}

const std::string& EngineUnavailable() {
  static const std::string why = [] {
    std::string error;
    std::optional<DockerClient>& client = Client(&error);
    if (!client) return error;
    const DockerResult<std::string> ping = client->Ping();
    if (!ping.ok()) return ping.error().ToString();  // "docker: ping: no Docker engine at ..."
    return std::string();
  }();
  return why;
}

DockerClient& Engine() {
  std::string ignored;
  return *Client(&ignored);
}

std::string UniqueName(std::string_view what) {
  static std::atomic<int> counter{0};
  return fmt::format("handoff-test-{}-{}-{}", what, getpid(), ++counter);
}

const std::string& BusyboxImage(std::string* error) {
  static std::string build_error;
  static const std::string image = [] {
    const std::string name = "handoff-test/busybox:latest";
    const DockerResult<std::string> built =
        BuildBusyboxImage(Engine(), name, "/bin/busybox", {{"handoff.test", "1"}});
    if (!built.ok()) {
      build_error = built.error().ToString();
      return std::string();
    }
    return name;
  }();
  *error = build_error;
  return image;
}

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void DockerTest::SetUp() {
  HANDOFF_NEED_DOCKER();
  case_value_ = UniqueName("case");
  case_label_ = "handoff.test.case=" + case_value_;
}

void DockerTest::TearDown() {
  if (case_label_.empty()) return;  // skipped
  // Containers first: a network cannot be removed while one is attached.
  if (const auto containers = engine().ListContainers(case_label_); containers.ok()) {
    for (const ContainerSummary& c : *containers) {
      const DockerStatus removed = engine().RemoveContainer(c.id);
      EXPECT_TRUE(removed.ok()) << removed.error().ToString();
    }
  }
  if (const auto networks = engine().ListNetworks(case_label_); networks.ok()) {
    for (const NetworkInfo& n : *networks) {
      const DockerStatus removed = engine().RemoveNetwork(n.id);
      EXPECT_TRUE(removed.ok()) << removed.error().ToString();
    }
  }
}

Labels DockerTest::TestLabels() const {
  return {{"handoff.test", "1"}, {"handoff.test.case", case_value_}};
}

std::string DockerTest::RunBusybox(const std::vector<std::string>& cmd, ContainerSpec spec) {
  std::string error;
  const std::string& image = BusyboxImage(&error);
  if (image.empty()) {
    ADD_FAILURE() << "no busybox image: " << error;
    return "";
  }
  if (spec.name.empty()) spec.name = UniqueName("busybox");
  spec.image = image;
  spec.cmd = cmd;
  for (const auto& [key, value] : TestLabels()) spec.labels[key] = value;
  const DockerResult<std::string> id = engine().CreateContainer(spec);
  if (!id.ok()) {
    ADD_FAILURE() << id.error().ToString();
    return "";
  }
  if (const DockerStatus started = engine().StartContainer(*id); !started.ok()) {
    ADD_FAILURE() << started.error().ToString();
    return "";
  }
  return *id;
}

}  // namespace handoff::workload::testing
