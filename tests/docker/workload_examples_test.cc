// The workload examples (examples/workloads/) against a real engine, run as a user runs
// them: prometheus_pair passes in both environments, and workload_interactive in Docker
// prints every runnable's endpoints, keeps them up until its URL is hit, and leaves
// nothing on the engine. The process side is in tests/blackbox/workload_examples_test.cc.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>

#include "blackbox/go_json.h"
#include "blackbox/interactive_output.h"
#include "blackbox/process.h"
#include "docker/docker_test_env.h"
#include "http_client/http_client.h"

namespace handoff::workload {
namespace {

using namespace std::chrono_literals;
using handoff::testing::BackgroundProcess;
using handoff::testing::GetEndpoint;
using handoff::testing::ProcessResult;
using testing::Engine;
using testing::UniqueName;

#if defined(EXAMPLE_PROMETHEUS_PAIR) && defined(EXAMPLE_WORKLOAD_INTERACTIVE)

// How many containers and networks carry environment `env`'s label.
std::size_t LeftOnTheEngine(const std::string& env) {
  const auto containers = Engine().ListContainers("handoff.env=" + env);
  const auto networks = Engine().ListNetworks("handoff.env=" + env);
  EXPECT_TRUE(containers.ok()) << containers.error().ToString();
  EXPECT_TRUE(networks.ok()) << networks.error().ToString();
  return (containers.ok() ? containers->size() : 0) + (networks.ok() ? networks->size() : 0);
}

TEST(DockerWorkloadExamplesTest, PrometheusPairPassesInBothEnvironments) {
  HANDOFF_NEED_DOCKER();
  // With an engine there, the Docker test must run, not skip.
  const ProcessResult r = handoff::testing::RunProcess(
      {EXAMPLE_PROMETHEUS_PAIR, "run", "--format", "json"}, {{"HANDOFF_REQUIRE_DOCKER", "1"}},
      300s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const handoff::testing::GoReport report = handoff::testing::ParseGoJson(r.out);
  ASSERT_TRUE(report.valid) << report.error;
  for (const char* name : {"Process", "Docker"}) {
    const handoff::testing::GoTest* test = report.Find("PrometheusPair", name);
    ASSERT_NE(test, nullptr) << name << " did not run:\n" << r.out;
    EXPECT_EQ(test->Final(), "pass") << name << ":\n" << test->output;
  }
  // The Docker test logs its environment's name; the test's cleanup removed all of it.
  const std::string& output = report.Find("PrometheusPair", "Docker")->output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(output, m, std::regex(R"(environment (\S+))"))) << output;
  EXPECT_EQ(LeftOnTheEngine(m[1]), 0u) << "environment " << m[1] << " left containers or its network";
}

TEST(DockerWorkloadExamplesTest, InteractivePrintsEndpointsEndsOnItsUrlAndLeavesNothing) {
  HANDOFF_NEED_DOCKER();
  const std::string name = UniqueName("interactive");
  BackgroundProcess p({EXAMPLE_WORKLOAD_INTERACTIVE, "--env", "docker", "--name", name,
                       "--timeout", "240"});
  ASSERT_TRUE(p.WaitForOutput("to stop waiting.\n", 180s)) << p.out() << p.err();
  const handoff::testing::InteractiveOutput printed =
      handoff::testing::ParseInteractiveOutput(p.out());
  EXPECT_EQ(printed.kind, "Docker") << p.out();
  EXPECT_EQ(printed.environment, name) << p.out();
  ASSERT_FALSE(printed.url.empty()) << p.out();
  ASSERT_EQ(printed.runnables.size(), 2u) << p.out();
  const auto containers = Engine().ListContainers("handoff.env=" + name);
  ASSERT_TRUE(containers.ok()) << containers.error().ToString();
  EXPECT_EQ(containers->size(), 2u) << "a container per runnable while it waits";
  for (const char* runnable : {"prom-target", "prom"}) {
    const auto it = printed.runnables.find(runnable);
    ASSERT_NE(it, printed.runnables.end()) << runnable << " not printed:\n" << p.out();
    ASSERT_EQ(it->second.count("http"), 1u) << p.out();
    const auto& [endpoint, internal] = it->second.at("http");
    // Other containers reach it by its name; the test through a port published on loopback.
    EXPECT_TRUE(internal.starts_with(std::string(runnable) + ":")) << internal;
    EXPECT_TRUE(endpoint.starts_with("127.0.0.1:")) << endpoint;
    const http::ClientResult ready = GetEndpoint(endpoint, "/-/ready");
    EXPECT_TRUE(ready.ok()) << runnable << ": " << ready.error;
    EXPECT_EQ(ready.status, 200) << runnable << ": " << ready.body;
  }

  const std::string url = printed.url.substr(7, printed.url.size() - 8);  // host:port
  const http::ClientResult hit = GetEndpoint(url, "/");
  ASSERT_TRUE(hit.ok()) << hit.error;
  EXPECT_EQ(hit.status, 200);
  const ProcessResult r = p.Wait(120s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(fmt::format("Stopped waiting (url); environment {} is closed.", name)),
            std::string::npos)
      << r.out;
  // Close returned before the program said so: nothing is left, without waiting.
  EXPECT_EQ(LeftOnTheEngine(name), 0u) << "environment " << name << " left containers or its network";
}

#endif

}  // namespace
}  // namespace handoff::workload
