// `image build` against the real engine: the image of a test binary serves as a non-root
// user on 1337 with its runs on a volume at /data, passes its own health check, runs its
// tests as PID 1 (no init), drains on SIGTERM and serves the same runs after a restart.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "blackbox/process.h"
#include "docker/docker_test_env.h"
#include "http_client/http_client.h"
#include "workload/docker_client.h"

namespace handoff::workload::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

bool Has(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// Removes the named volume when the test ends, whatever happened, with the containers of
// `case_label` that use it.
struct VolumeRemover {
  std::string name;
  std::string case_label;
  ~VolumeRemover() {
    if (const auto containers = Engine().ListContainers(case_label); containers.ok()) {
      for (const ContainerSummary& c : *containers) (void)Engine().RemoveContainer(c.id);
    }
    const DockerStatus removed = Engine().RemoveVolume(name);
    EXPECT_TRUE(removed.ok()) << removed.error().ToString();
  }
};

// ldd does not list what the binary opens when first needed (src/dynlib/lazy_library.h):
// the image holds those libraries too, and what they need, or its server could not use
// PostgreSQL, TLS or tokens. No engine is asked: --context writes the build context.
TEST(ImageContextTest, HoldsTheLibrariesTheBinaryOpensWhenFirstNeeded) {
  const std::string dir = handoff::testing::MakeTempDir();
  const std::string tar = dir + "/context.tar";
  const handoff::testing::ProcessResult written = handoff::testing::RunProcess(
      {SERVE_FIXTURE, "image", "build", "--context", tar}, {}, 120s);
  ASSERT_EQ(written.exit_code, 0) << written.out << written.err;
  const handoff::testing::ProcessResult listed = handoff::testing::RunProcess({"/usr/bin/tar", "-tf", tar});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  // The four it opens, libpq's Kerberos and libdw's libelf.
  for (const std::string library : {"/libpq.so.5", "/libssl.so.3", "/libcrypto.so.3", "/libdw.so.1",
                                    "/libgssapi_krb5.so.2", "/libelf.so.1"}) {
    EXPECT_NE(listed.out.find(library + "\n"), std::string::npos) << library << " not in\n"
                                                                  << listed.out;
  }
  std::filesystem::remove_all(dir);
}

TEST_F(DockerTest, TheImageOfATestBinaryServesAsNonRootKeepsItsRunsAndStopsOnSigterm) {
  const std::string tag = UniqueName("image") + ":test";
  const handoff::testing::ProcessResult built = handoff::testing::RunProcess(
      {SERVE_FIXTURE, "image", "build", "--tag", tag, "--label", case_label()}, {}, 600s);
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  EXPECT_NE(built.out.find("built " + tag), std::string::npos) << built.out;
  struct ImageRemover {
    std::string tag;
    ~ImageRemover() { (void)Engine().RemoveImage(tag); }
  } image_remover{tag};

  const DockerResult<ImageInfo> image = engine().InspectImage(tag);
  ASSERT_TRUE(image.ok()) << image.error().ToString();
  EXPECT_EQ(image->user, "65532:65532");
  EXPECT_TRUE(Has(image->exposed_ports, "1337/tcp"));
  EXPECT_TRUE(Has(image->volumes, "/data"));
  EXPECT_EQ(image->stop_signal, "SIGTERM");
  EXPECT_EQ(image->entrypoint, std::vector<std::string>{"/usr/local/bin/serve_fixture"});
  EXPECT_EQ(image->cmd, std::vector<std::string>{"serve"});
  EXPECT_TRUE(Has(image->env, "HANDOFF_DB=sqlite:/data/handoff.db"));
  ASSERT_GE(image->healthcheck.size(), 3u);
  EXPECT_EQ(image->healthcheck[0], "CMD");
  EXPECT_TRUE(Has(image->healthcheck, "health"));

  const DockerResult<std::string> network =
      engine().CreateNetwork(UniqueName("net"), TestLabels());
  ASSERT_TRUE(network.ok()) << network.error().ToString();
  VolumeRemover volume{UniqueName("data"), case_label()};
  const std::string token(40, 't');
  ContainerSpec spec;
  spec.name = UniqueName("serve");
  spec.image = tag;
  spec.env = {"HANDOFF_AUTH_TOKEN=" + token};
  spec.network = *network;
  spec.ports = {"1337"};
  spec.binds = {volume.name + ":/data"};
  spec.labels = TestLabels();
  const DockerResult<std::string> id = engine().CreateContainer(spec);
  ASSERT_TRUE(id.ok()) << id.error().ToString();

  // Starts the container and returns a client of its published port once /healthz answers.
  const auto start = [&]() -> std::unique_ptr<http::Client> {
    const DockerStatus started = engine().StartContainer(*id);
    EXPECT_TRUE(started.ok()) << started.error().ToString();
    const DockerResult<ContainerInfo> info = engine().InspectContainer(*id);
    if (!info.ok() || info->HostPort(1337) == 0) {
      ADD_FAILURE() << "no published port";
      return nullptr;
    }
    auto client = std::make_unique<http::Client>("127.0.0.1", info->HostPort(1337));
    client->AddDefaultHeader("Authorization", "Bearer " + token);
    const bool up = Eventually(
        [&] {
          const http::ClientResult r = client->Request("GET", "/healthz", {}, {}, 2s);
          return r.ok() && r.status == 200;
        },
        60s);
    if (!up) {
      std::string logs;
      (void)engine().FollowLogs(
          *id, [&](DockerClient::Stream, std::string_view line) {
            logs += std::string(line) + "\n";
            return true;
          },
          2s);
      ADD_FAILURE() << "the server did not answer /healthz; its logs:\n" << logs;
      return nullptr;
    }
    return client;
  };
  const auto run_status = [](http::Client& client, std::int64_t run) {
    const http::ClientResult r = client.Request("GET", fmt::format("/api/v1/runs/{}", run));
    if (!r.ok() || r.status != 200) return std::string();
    return std::string(json::parse(r.body).as_object().at("status").as_string());
  };

  std::unique_ptr<http::Client> client = start();
  ASSERT_NE(client, nullptr);
  // Without a token, nothing starts: the image listens beyond loopback with auth on.
  http::Client anonymous("127.0.0.1", engine().InspectContainer(*id)->HostPort(1337));
  EXPECT_EQ(anonymous.Request("POST", "/api/v1/suites/Fast/runs", "{}",
                              {{"Content-Type", "application/json"}})
                .status,
            401);
  const http::ClientResult triggered = client->Request(
      "POST", "/api/v1/suites/Fast/runs", R"({"reference":"abc123"})",
      {{"Content-Type", "application/json"}});
  ASSERT_EQ(triggered.status, 201) << triggered.body;
  const std::int64_t run = json::parse(triggered.body).as_object().at("id").as_int64();
  // Its tests pass: workers start under a serve that is PID 1.
  std::string status;
  ASSERT_TRUE(Eventually(
      [&] {
        status = run_status(*client, run);
        return status != "queued" && status != "running" && !status.empty();
      },
      60s));
  EXPECT_EQ(status, "passed");

  // The image's own health check, as the engine runs it, and readiness from inside.
  EXPECT_TRUE(Eventually(
      [&] {
        const DockerResult<ContainerInfo> info = engine().InspectContainer(*id);
        return info.ok() && info->health == "healthy";
      },
      60s))
      << engine().InspectContainer(*id)->health;
  const DockerResult<DockerExecResult> ready = engine().Exec(
      *id, ExecSpec{.cmd = {"/usr/local/bin/serve_fixture", "remote", "health", "--server",
                            "http://127.0.0.1:1337", "--ready"}});
  ASSERT_TRUE(ready.ok()) << ready.error().ToString();
  EXPECT_EQ(ready->exit_code, 0) << ready->stdout_data;
  EXPECT_NE(ready->stdout_data.find("/readyz: 200"), std::string::npos) << ready->stdout_data;

  // SIGTERM drains and exits 0 (the engine's SIGKILL after 30 s would be 137).
  const DockerStatus stopped = engine().StopContainer(*id, 30s);
  ASSERT_TRUE(stopped.ok()) << stopped.error().ToString();
  const DockerResult<ContainerInfo> after_stop = engine().InspectContainer(*id);
  ASSERT_TRUE(after_stop.ok());
  EXPECT_EQ(after_stop->exit_code, 0);

  // The run is still there after a restart: it lives on the volume.
  client = start();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(run_status(*client, run), "passed");
}

}  // namespace
}  // namespace handoff::workload::testing
