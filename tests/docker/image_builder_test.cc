// Images built from host files: ldd's output, Debian's prometheus binary (dynamically
// linked) and a directory with a Dockerfile, against a real engine.

#include "workload/image_builder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "blackbox/process.h"
#include "docker/docker_test_env.h"
#include "http_client/http_client.h"

namespace handoff::workload {
namespace {

using testing::DockerTest;
using ::testing::ElementsAre;
using testing::Eventually;
using ::testing::HasSubstr;
using testing::UniqueName;
using namespace std::chrono_literals;

TEST(LddTest, ParsesLibrariesAndTheLoader) {
  std::string error;
  const auto libraries = ParseLddOutput(
      "\tlinux-vdso.so.1 (0x00007ffd)\n"
      "\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f10)\n"
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f20)\n"
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f30)\n",
      &error);
  ASSERT_TRUE(libraries) << error;
  EXPECT_THAT(*libraries,
              ElementsAre("/lib/x86_64-linux-gnu/libm.so.6", "/lib/x86_64-linux-gnu/libc.so.6",
                          "/lib64/ld-linux-x86-64.so.2"));
  const auto none = ParseLddOutput("\tnot a dynamic executable\n", &error);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(ParseLddOutput("\tlibgone.so.1 => not found\n", &error));
  EXPECT_THAT(error, HasSubstr("libgone.so.1"));
}

TEST(LddTest, FindsWhatRealExecutablesNeed) {
  std::string error;
  const auto busybox = SharedLibraries("/bin/busybox", &error);
  ASSERT_TRUE(busybox) << error;
  EXPECT_TRUE(busybox->empty()) << "busybox-static is static";
  const auto sh = SharedLibraries("/bin/sh", &error);
  ASSERT_TRUE(sh) << error;
  EXPECT_THAT(*sh, ::testing::Contains(HasSubstr("libc.so")));
  EXPECT_FALSE(SharedLibraries("/nonexistent/tool", &error));
  EXPECT_THAT(error, HasSubstr("/nonexistent/tool"));
}

TEST(ImageBuilderTest, AMissingExecutableFailsBeforeTheEngineIsAsked) {
  DockerClient nowhere(DockerEndpoint{"/nonexistent/docker.sock", "", 0}, 1s);
  const auto built = BuildImageFromExecutable(nowhere, "x", "/nonexistent/tool");
  ASSERT_FALSE(built.ok());
  EXPECT_THAT(built.error().ToString(), HasSubstr("build image \"x\""));
  EXPECT_THAT(built.error().message, HasSubstr("/nonexistent/tool"));
}

TEST_F(DockerTest, BuildsARunnablePrometheusImageFromDebiansBinary) {
  const std::string binary = "/usr/bin/prometheus";
  if (!std::filesystem::exists(binary)) {
    if (testing::DockerRequired()) FAIL() << binary << " is missing (Debian's prometheus)";
    GTEST_SKIP() << binary << " is missing (Debian's prometheus)";
  }
  std::string error;
  const auto libraries = SharedLibraries(binary, &error);
  ASSERT_TRUE(libraries) << error;
  EXPECT_FALSE(libraries->empty()) << "Debian's prometheus is dynamically linked";

  const std::string image = "handoff-test/prometheus:latest";
  ExecutableImageOptions options;
  options.cmd = {"--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
                 "--web.listen-address=:9090"};
  options.labels = {{"handoff.test", "1"}};
  const auto built = BuildImageFromExecutable(
      engine(), image, binary,
      {ImageFile::Content("/etc/prometheus/prometheus.yml", "global:\n  scrape_interval: 15s\n"),
       ImageFile::Directory("/prometheus", 0777)},
      options);
  ASSERT_TRUE(built.ok()) << built.error().ToString();
  const auto info = engine().InspectImage(image);
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  EXPECT_EQ(info->id, *built);
  EXPECT_THAT(info->entrypoint, ElementsAre(binary));

  // Ports are published from a bridge network; an engine started with --bridge=none has
  // only user-defined ones.
  const std::string network = UniqueName("net");
  ASSERT_TRUE(engine().CreateNetwork(network, TestLabels()).ok());
  const auto id = engine().CreateContainer(ContainerSpec{.name = UniqueName("prometheus"),
                                                         .image = image,
                                                         .network = network,
                                                         .ports = {"9090"},
                                                         .labels = TestLabels()});
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  ASSERT_TRUE(engine().StartContainer(*id).ok());
  const auto container = engine().InspectContainer(*id);
  ASSERT_TRUE(container.ok());
  ASSERT_NE(container->HostPort(9090), 0) << container->status << " " << container->error;
  http::Client client("127.0.0.1", container->HostPort(9090));
  http::ClientResult ready;
  EXPECT_TRUE(Eventually(
      [&] {
        ready = client.Request("GET", "/-/ready", {}, {}, 2s);
        return ready.ok() && ready.status == 200;
      },
      60s))
      << ready.error << " " << ready.status << " " << ready.body;
  const http::ClientResult metrics = client.Request("GET", "/metrics");
  EXPECT_THAT(metrics.body, HasSubstr("prometheus_build_info"));
}

TEST_F(DockerTest, BuildsAnImageFromADirectory) {
  std::string error;
  const std::string& busybox = testing::BusyboxImage(&error);
  ASSERT_FALSE(busybox.empty()) << error;
  const std::string dir = handoff::testing::MakeTempDir();
  std::filesystem::create_directory(dir + "/sub");
  std::ofstream(dir + "/hello.txt") << "hello from the context\n";
  std::ofstream(dir + "/sub/nested") << "";
  std::filesystem::create_symlink("hello.txt", dir + "/link");

  const std::string image = UniqueName("dir") + ":latest";
  const auto built = BuildImageFromDirectory(
      engine(), image, dir,
      "FROM " + busybox +
          "\nCOPY . /app/\n"
          "CMD [\"sh\", \"-c\", \"cat /app/hello.txt; readlink /app/link; ls /app/sub\"]\n",
      TestLabels());
  ASSERT_TRUE(built.ok()) << built.error().ToString();
  const auto id = engine().CreateContainer(
      ContainerSpec{.name = UniqueName("dir"), .image = image, .labels = TestLabels()});
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  ASSERT_TRUE(engine().StartContainer(*id).ok());
  ASSERT_TRUE(engine().WaitContainer(*id, 30s).ok());
  std::vector<std::string> lines;
  ASSERT_TRUE(engine()
                  .FollowLogs(
                      *id,
                      [&](auto, std::string_view line) {
                        lines.emplace_back(line);
                        return true;
                      },
                      30s)
                  .ok());
  EXPECT_THAT(lines, ElementsAre("hello from the context", "hello.txt", "nested"));

  ASSERT_TRUE(engine().RemoveContainer(*id).ok());
  const DockerStatus removed = engine().RemoveImage(image);
  EXPECT_TRUE(removed.ok()) << removed.error().ToString();
  EXPECT_TRUE(engine().InspectImage(image).error().not_found());
}

TEST_F(DockerTest, AFailedBuildStepFailsWithTheEngineMessage) {
  const std::string dir = handoff::testing::MakeTempDir();
  const auto built = BuildImageFromDirectory(engine(), UniqueName("broken") + ":latest", dir,
                                             "FROM scratch\nCOPY missing.txt /\n", TestLabels());
  ASSERT_FALSE(built.ok());
  EXPECT_THAT(built.error().message, HasSubstr("missing.txt"));
  EXPECT_THAT(built.error().ToString(), HasSubstr("build image"));
}

}  // namespace
}  // namespace handoff::workload
