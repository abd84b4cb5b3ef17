// The workload examples (examples/workloads/) run as a user runs them, in the process
// environment: prometheus_pair's Process test passes, and workload_interactive prints every
// runnable's endpoints, keeps them up until its URL is hit, then closes everything. Their
// Docker side is in tests/docker/workload_examples_test.cc.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "blackbox/go_json.h"
#include "blackbox/interactive_output.h"
#include "blackbox/process.h"
#include "http_client/http_client.h"

namespace handoff::testing {
namespace {

using namespace std::chrono_literals;

#if defined(EXAMPLE_PROMETHEUS_PAIR) && defined(EXAMPLE_WORKLOAD_INTERACTIVE)

TEST(WorkloadExamplesTest, PrometheusPairPassesInTheProcessEnvironment) {
  const ProcessResult r = RunProcess(
      {EXAMPLE_PROMETHEUS_PAIR, "run", "--run", "^Process$", "--format", "json"}, {}, 180s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const GoReport report = ParseGoJson(r.out);
  ASSERT_TRUE(report.valid) << report.error;
  const GoTest* test = report.Find("PrometheusPair", "Process");
  ASSERT_NE(test, nullptr) << r.out;
  EXPECT_EQ(test->Final(), "pass") << test->output;
  // It really ran both servers: their output is forwarded into the test's.
  EXPECT_NE(test->output.find("prom-a: "), std::string::npos) << test->output;
  EXPECT_NE(test->output.find("prom-b: "), std::string::npos) << test->output;
  EXPECT_EQ(report.Find("PrometheusPair", "Docker"), nullptr) << "--run selected only Process";
}

TEST(WorkloadExamplesTest, InteractivePrintsEndpointsAndEndsOnItsUrl) {
  BackgroundProcess p({EXAMPLE_WORKLOAD_INTERACTIVE, "--env", "process", "--name",
                       "blackbox-interactive", "--timeout", "120"});
  ASSERT_TRUE(p.WaitForOutput("to stop waiting.\n", 60s)) << p.out() << p.err();
  const InteractiveOutput printed = ParseInteractiveOutput(p.out());
  EXPECT_EQ(printed.kind, "processes") << p.out();
  EXPECT_TRUE(printed.environment.starts_with("blackbox-interactive-")) << p.out();
  ASSERT_FALSE(printed.url.empty()) << p.out();
  ASSERT_EQ(printed.runnables.size(), 2u) << p.out();
  for (const char* name : {"prom-target", "prom"}) {
    const auto it = printed.runnables.find(name);
    ASSERT_NE(it, printed.runnables.end()) << name << " not printed:\n" << p.out();
    ASSERT_EQ(it->second.count("http"), 1u) << p.out();
    const auto& [endpoint, internal] = it->second.at("http");
    // Processes share the host: both endpoints are the same, and it is serving there.
    EXPECT_TRUE(endpoint.starts_with("127.0.0.1:")) << endpoint;
    EXPECT_EQ(internal, endpoint);
    const http::ClientResult ready = GetEndpoint(endpoint, "/-/ready");
    EXPECT_TRUE(ready.ok()) << name << ": " << ready.error;
    EXPECT_EQ(ready.status, 200) << name << ": " << ready.body;
  }
  const std::size_t shared = p.out().find("Shared directory: ");
  ASSERT_NE(shared, std::string::npos) << p.out();
  const std::string shared_dir = p.out().substr(shared + 18, p.out().find('\n', shared) - shared - 18);
  EXPECT_TRUE(std::filesystem::exists(shared_dir)) << shared_dir;

  // The printed URL ends the wait, with the library's own HTTP client.
  const http::ClientResult hit = GetEndpoint(printed.url.substr(7, printed.url.size() - 8), "/");
  ASSERT_TRUE(hit.ok()) << hit.error;
  EXPECT_EQ(hit.status, 200);
  EXPECT_NE(hit.body.find(printed.environment), std::string::npos) << hit.body;
  const ProcessResult r = p.Wait(60s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(fmt::format("Stopped waiting (url); environment {} is closed.",
                                   printed.environment)),
            std::string::npos)
      << r.out;
  // Closed: the servers are gone and so is the directory.
  EXPECT_FALSE(std::filesystem::exists(shared_dir)) << shared_dir;
  for (const auto& [name, ports] : printed.runnables) {
    EXPECT_FALSE(GetEndpoint(ports.at("http").first, "/-/ready").ok()) << name << " still answers";
  }
}

TEST(WorkloadExamplesTest, InteractiveRejectsBadFlags) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--timeout", "soon"}, {"--port", "70000"}, {"--port"},
        {"--env", "vm"}, {"--verbose", "1"}}) {
    std::vector<std::string> argv = {EXAMPLE_WORKLOAD_INTERACTIVE};
    argv.insert(argv.end(), args.begin(), args.end());
    const ProcessResult r = RunProcess(argv, {}, 30s);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.out << r.err;
    EXPECT_NE(r.err.find(args[0]), std::string::npos) << "the message names the flag: " << r.err;
    EXPECT_NE(r.err.find("usage: workload_interactive"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "") << "nothing was started for " << args[0];
  }
}

#endif

}  // namespace
}  // namespace handoff::testing
