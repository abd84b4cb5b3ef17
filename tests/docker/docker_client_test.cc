// The Docker Engine API client against a real engine (see docker_test_env.h for the skip
// rules), plus its pure parts without one.

#include "workload/docker_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "blackbox/process.h"
#include "docker/docker_test_env.h"
#include "http_client/http_client.h"
#include "workload/tar.h"

namespace handoff::workload {
namespace {

using testing::DockerTest;
using testing::Eventually;
using ::testing::HasSubstr;
using testing::UniqueName;
using ::testing::UnorderedElementsAre;
using namespace std::chrono_literals;
using Stream = StreamDemuxer::Stream;

TEST(DockerHostTest, ParsesUnixAndTcpEndpoints) {
  std::string error;
  const auto fallback = ParseDockerHost("", &error);
  ASSERT_TRUE(fallback) << error;
  EXPECT_EQ(fallback->unix_path, "/var/run/docker.sock");

  const auto unix_socket = ParseDockerHost("unix:///run/user/1000/docker.sock", &error);
  ASSERT_TRUE(unix_socket) << error;
  EXPECT_EQ(unix_socket->unix_path, "/run/user/1000/docker.sock");
  EXPECT_EQ(unix_socket->ToString(), "unix:///run/user/1000/docker.sock");

  const auto tcp = ParseDockerHost("tcp://127.0.0.1:2376", &error);
  ASSERT_TRUE(tcp) << error;
  EXPECT_EQ(tcp->host, "127.0.0.1");
  EXPECT_EQ(tcp->port, 2376);
  const auto default_port = ParseDockerHost("tcp://docker.internal", &error);
  ASSERT_TRUE(default_port) << error;
  EXPECT_EQ(default_port->port, 2375);
  const auto v6 = ParseDockerHost("tcp://[::1]:2375/", &error);
  ASSERT_TRUE(v6) << error;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "tcp://[::1]:2375");
}

TEST(DockerHostTest, RejectsWhatItCannotReach) {
  std::string error;
  EXPECT_FALSE(ParseDockerHost("ssh://me@host", &error));
  EXPECT_THAT(error, HasSubstr("only unix:// and tcp://"));
  EXPECT_FALSE(ParseDockerHost("tcp://host:99999", &error));
  EXPECT_THAT(error, HasSubstr("bad port"));
  EXPECT_FALSE(ParseDockerHost("unix://", &error));
}

std::string Frame(std::uint8_t stream, std::string_view payload) {
  std::string out{static_cast<char>(stream), 0, 0, 0};
  const auto size = static_cast<std::uint32_t>(payload.size());
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((size >> shift) & 0xff);
  return out + std::string(payload);
}

TEST(StreamDemuxerTest, SplitsFramesArrivingInAnyPieces) {
  const std::string bytes =
      Frame(1, "out 1\n") + Frame(2, "err\n") + Frame(1, "") + Frame(1, "out 2\n");
  // Byte by byte, then whole: the same payloads per stream.
  for (const std::size_t piece : {std::size_t{1}, bytes.size()}) {
    std::string out;
    std::string err;
    StreamDemuxer demuxer([&](Stream stream, std::string_view payload) {
      (stream == Stream::kStderr ? err : out).append(payload);
    });
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
      ASSERT_TRUE(demuxer.Feed(std::string_view(bytes).substr(at, piece)));
    }
    EXPECT_EQ(out, "out 1\nout 2\n");
    EXPECT_EQ(err, "err\n");
  }
}

TEST(StreamDemuxerTest, RejectsWhatIsNotAFrame) {
  StreamDemuxer demuxer([](Stream, std::string_view) {});
  EXPECT_FALSE(demuxer.Feed("HTTP/1.1 200 OK\r\n"));
  EXPECT_FALSE(demuxer.Feed(Frame(1, "late")));  // stays failed
  StreamDemuxer huge([](Stream, std::string_view) {});
  EXPECT_FALSE(huge.Feed(std::string("\x01\0\0\0\x7f\0\0\0", 8)));
}

TEST(DockerClientTest, NoEngineIsAnErrorNamingTheSocket) {
  DockerClient client(DockerEndpoint{"/nonexistent/docker.sock", "", 0}, 2s);
  const DockerResult<std::string> ping = client.Ping();
  ASSERT_FALSE(ping.ok());
  EXPECT_EQ(ping.error().status, 0);
  EXPECT_THAT(ping.error().ToString(),
              HasSubstr("no Docker engine at unix:///nonexistent/docker.sock"));
  const auto inspected = client.InspectContainer("web");
  ASSERT_FALSE(inspected.ok());
  EXPECT_THAT(inspected.error().ToString(), HasSubstr("inspect container \"web\""));
}

TEST_F(DockerTest, PingChoosesAnApiVersionAndVersionDescribesTheEngine) {
  const DockerResult<std::string> api = engine().Ping();
  ASSERT_TRUE(api.ok()) << api.error().ToString();
  EXPECT_THAT(*api, ::testing::MatchesRegex("1\\.[0-9]+"));
  const DockerResult<EngineVersion> version = engine().Version();
  ASSERT_TRUE(version.ok()) << version.error().ToString();
  EXPECT_FALSE(version->version.empty());
  EXPECT_FALSE(version->api_version.empty());
  EXPECT_EQ(version->os, "linux");
}

TEST_F(DockerTest, BuildsABusyboxImageWhoseAppletsAreLinks) {
  std::string error;
  const std::string& image = testing::BusyboxImage(&error);
  ASSERT_FALSE(image.empty()) << error;
  const DockerResult<ImageInfo> info = engine().InspectImage(image);
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  EXPECT_THAT(info->tags, ::testing::Contains(image));
  EXPECT_TRUE(info->entrypoint.empty());
  EXPECT_THAT(info->cmd, ::testing::ElementsAre("sh"));
  EXPECT_EQ(info->labels.at("handoff.test"), "1");

  const std::string id = RunBusybox(
      {"sh", "-c",
       "for f in wget httpd sleep; do readlink /bin/$f; done && test -d /tmp && id -un"});
  ASSERT_FALSE(id.empty());
  const DockerResult<int> exit_code = engine().WaitContainer(id, 30s);
  ASSERT_TRUE(exit_code.ok()) << exit_code.error().ToString();
  EXPECT_EQ(*exit_code, 0);
  std::vector<std::string> lines;
  const DockerStatus logs = engine().FollowLogs(
      id, [&](Stream, std::string_view line) { return lines.emplace_back(line), true; }, 30s);
  ASSERT_TRUE(logs.ok()) << logs.error().ToString();
  EXPECT_THAT(lines,
              ::testing::ElementsAre("/bin/busybox", "/bin/busybox", "/bin/busybox", "root"));
}

TEST_F(DockerTest, CreatesListsAndRemovesNetworks) {
  const std::string name = UniqueName("net");
  const DockerResult<std::string> id = engine().CreateNetwork(name, TestLabels());
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  const auto listed = engine().ListNetworks(case_label());
  ASSERT_TRUE(listed.ok()) << listed.error().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().id, *id);
  EXPECT_EQ(listed->front().name, name);
  EXPECT_EQ(listed->front().labels.at("handoff.test"), "1");

  const DockerStatus removed = engine().RemoveNetwork(name);
  ASSERT_TRUE(removed.ok()) << removed.error().ToString();
  const auto after = engine().ListNetworks(case_label());
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
  const DockerStatus again = engine().RemoveNetwork(*id);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().not_found()) << again.error().ToString();
}

TEST_F(DockerTest, ContainerServesHttpOnItsPublishedPortAndByAliasOnItsNetwork) {
  const std::string network = UniqueName("net");
  ASSERT_TRUE(engine().CreateNetwork(network, TestLabels()).ok());
  ContainerSpec spec;
  spec.hostname = "web";
  spec.network = network;
  spec.ports = {"8080"};
  const std::string id = RunBusybox(
      // sh stays PID 1 to end at SIGTERM (PID 1 ignores signals it has no handler for).
      {"sh", "-c",
       "mkdir /www; echo hello > /www/index.html; trap 'exit 0' TERM; "
       "httpd -f -p 8080 -h /www & wait"},
      spec);
  ASSERT_FALSE(id.empty());

  const DockerResult<ContainerInfo> info = engine().InspectContainer(id);
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  EXPECT_TRUE(info->running);
  EXPECT_EQ(info->status, "running");
  EXPECT_FALSE(info->ip.empty());
  EXPECT_EQ(info->labels.at("handoff.test"), "1");
  const std::uint16_t port = info->HostPort(8080);
  ASSERT_NE(port, 0) << "8080/tcp is not published";

  http::Client client("127.0.0.1", port);
  http::ClientResult got;
  EXPECT_TRUE(Eventually(
      [&] {
        got = client.Request("GET", "/index.html", {}, {}, 2s);
        return got.ok() && got.status == 200;
      },
      30s))
      << got.error << " " << got.status;
  EXPECT_EQ(got.body, "hello\n");

  // Another container on the network reaches it by its hostname.
  const std::string fetcher =
      RunBusybox({"wget", "-qO-", "http://web:8080/index.html"}, ContainerSpec{.network = network});
  ASSERT_FALSE(fetcher.empty());
  const DockerResult<int> fetched = engine().WaitContainer(fetcher, 30s);
  ASSERT_TRUE(fetched.ok()) << fetched.error().ToString();
  EXPECT_EQ(*fetched, 0);

  const DockerStatus stopped = engine().StopContainer(id, 5s);
  ASSERT_TRUE(stopped.ok()) << stopped.error().ToString();
  const DockerResult<ContainerInfo> after = engine().InspectContainer(id);
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->running);
  EXPECT_EQ(after->status, "exited");
  EXPECT_EQ(after->exit_code, 0) << "ended by SIGTERM, not SIGKILL after the grace period";
  EXPECT_TRUE(engine().StopContainer(id, 5s).ok()) << "stopping a stopped container succeeds";

  const DockerStatus removed = engine().RemoveContainer(id);
  ASSERT_TRUE(removed.ok()) << removed.error().ToString();
  const DockerResult<ContainerInfo> gone = engine().InspectContainer(id);
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.error().not_found()) << gone.error().ToString();
}

TEST_F(DockerTest, AppliesEnvUserWorkingDirBindsAndLimits) {
  const std::string dir = handoff::testing::MakeTempDir();
  ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
  std::ofstream(dir + "/hello.txt") << "from the host\n";
  ContainerSpec spec;
  spec.env = {"GREETING=hi there"};
  spec.user = "nobody";
  spec.working_dir = "/tmp";
  spec.binds = {dir + ":/data:ro"};
  spec.memory_bytes = 64 << 20;
  spec.nano_cpus = 500'000'000;
  const std::string id =
      RunBusybox({"sh", "-c",
                  "echo \"$GREETING\"; id -un; pwd; cat /data/hello.txt; "
                  "touch /data/new 2>/dev/null && echo writable || echo read-only"},
                 spec);
  ASSERT_FALSE(id.empty());
  const DockerResult<int> exit_code = engine().WaitContainer(id, 30s);
  ASSERT_TRUE(exit_code.ok()) << exit_code.error().ToString();
  std::vector<std::string> lines;
  ASSERT_TRUE(engine()
                  .FollowLogs(
                      id,
                      [&](Stream, std::string_view line) {
                        lines.emplace_back(line);
                        return true;
                      },
                      30s)
                  .ok());
  EXPECT_THAT(lines,
              ::testing::ElementsAre("hi there", "nobody", "/tmp", "from the host", "read-only"));
  EXPECT_EQ(*exit_code, 0);
}

TEST_F(DockerTest, ExecReturnsStdoutStderrExitCodeAndTakesStdin) {
  const std::string id = RunBusybox({"sleep", "300"});
  ASSERT_FALSE(id.empty());
  ExecSpec spec;
  spec.cmd = {"sh", "-c", "echo out; echo err >&2; exit 3"};
  const DockerResult<DockerExecResult> result = engine().Exec(id, spec);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_EQ(result->stdout_data, "out\n");
  EXPECT_EQ(result->stderr_data, "err\n");

  // stdin is written, then closed: `wc -c` sees all of it and ends.
  ExecSpec with_input;
  with_input.cmd = {"sh", "-c", "wc -c; echo \"$WHO\" >&2"};
  with_input.env = {"WHO=exec"};
  with_input.stdin_data = std::string(300'000, 'x');
  const DockerResult<DockerExecResult> counted = engine().Exec(id, with_input);
  ASSERT_TRUE(counted.ok()) << counted.error().ToString();
  EXPECT_EQ(counted->exit_code, 0);
  EXPECT_THAT(counted->stdout_data, HasSubstr("300000"));
  EXPECT_EQ(counted->stderr_data, "exec\n");

  // Output larger than the engine's frames, and a command that ignores its input.
  ExecSpec large;
  large.cmd = {"sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' y"};
  large.stdin_data = "ignored";
  const DockerResult<DockerExecResult> big = engine().Exec(id, large);
  ASSERT_TRUE(big.ok()) << big.error().ToString();
  EXPECT_EQ(big->stdout_data, std::string(1'000'000, 'y'));

  ExecSpec missing;
  missing.cmd = {"no-such-command"};
  const DockerResult<DockerExecResult> failed = engine().Exec(id, missing);
  ASSERT_TRUE(failed.ok()) << failed.error().ToString();
  // 126 from engines that report the failed exec as the runtime's error, 127 from newer ones.
  EXPECT_THAT(failed->exit_code, ::testing::AnyOf(126, 127));
  EXPECT_THAT(failed->stdout_data + failed->stderr_data, HasSubstr("no-such-command"));
}

TEST_F(DockerTest, FollowsLogsLineByLineUntilTheContainerEndsOrTheCallerStops) {
  const std::string id =
      RunBusybox({"sh", "-c", "echo one; echo two >&2; echo three; printf 'no newline'"});
  ASSERT_FALSE(id.empty());
  const auto follow = [&](std::vector<std::string>* out, std::vector<std::string>* err) {
    const DockerStatus followed = engine().FollowLogs(
        id,
        [&](Stream stream, std::string_view line) {
          (stream == Stream::kStderr ? err : out)->emplace_back(line);
          return true;
        },
        30s);
    EXPECT_TRUE(followed.ok()) << followed.error().ToString();
  };
  std::vector<std::string> out;
  std::vector<std::string> err;
  follow(&out, &err);  // while it runs, until it exits
  // Docker 20.10 may end a follow before the last line without '\n' is logged.
  ASSERT_GE(out.size(), 2u);
  EXPECT_THAT(std::vector(out.begin(), out.begin() + 2), ::testing::ElementsAre("one", "three"));
  EXPECT_THAT(err, ::testing::ElementsAre("two"));

  ASSERT_TRUE(engine().WaitContainer(id, 30s).ok());
  out.clear();
  err.clear();
  follow(&out, &err);  // once it has exited: all of it, the unfinished line last
  EXPECT_THAT(out, ::testing::ElementsAre("one", "three", "no newline"));
  EXPECT_THAT(err, ::testing::ElementsAre("two"));

  const std::string ticker = RunBusybox({"sh", "-c", "while true; do echo tick; sleep 0.1; done"});
  ASSERT_FALSE(ticker.empty());
  int ticks = 0;
  const auto started = std::chrono::steady_clock::now();
  const DockerStatus stopped = engine().FollowLogs(
      ticker, [&](Stream, std::string_view line) { return line != "tick" || ++ticks < 3; }, 30s);
  ASSERT_TRUE(stopped.ok()) << stopped.error().ToString();
  EXPECT_EQ(ticks, 3);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s);
}

TEST_F(DockerTest, KillSendsTheSignalAsked) {
  const std::string id =
      RunBusybox({"sh", "-c", "trap 'exit 7' HUP; echo ready; while true; do sleep 0.1; done"});
  ASSERT_FALSE(id.empty());
  // Signal only once the trap is set.
  ASSERT_TRUE(engine()
                  .FollowLogs(
                      id, [](Stream, std::string_view line) { return line != "ready"; }, 30s)
                  .ok());
  const DockerStatus hup = engine().KillContainer(id, "SIGHUP");
  ASSERT_TRUE(hup.ok()) << hup.error().ToString();
  const DockerResult<int> exit_code = engine().WaitContainer(id, 30s);
  ASSERT_TRUE(exit_code.ok()) << exit_code.error().ToString();
  EXPECT_EQ(*exit_code, 7);

  const std::string sleeper = RunBusybox({"sleep", "300"});
  ASSERT_FALSE(sleeper.empty());
  const DockerResult<int> still_running = engine().WaitContainer(sleeper, 300ms);
  ASSERT_FALSE(still_running.ok());
  EXPECT_EQ(still_running.error().status, 0);
  EXPECT_THAT(still_running.error().message, HasSubstr("timed out after 300 ms"));
  ASSERT_TRUE(engine().KillContainer(sleeper).ok());
  const DockerResult<int> killed = engine().WaitContainer(sleeper, 30s);
  ASSERT_TRUE(killed.ok()) << killed.error().ToString();
  EXPECT_EQ(*killed, 137);
  const DockerResult<ContainerInfo> info = engine().InspectContainer(sleeper);
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->running);
  EXPECT_EQ(info->exit_code, 137);

  const DockerStatus not_running = engine().KillContainer(sleeper);
  ASSERT_FALSE(not_running.ok());
  EXPECT_EQ(not_running.error().status, 409) << not_running.error().ToString();
}

TEST_F(DockerTest, ListsByLabelInAnyStateAndCleansUpLeftovers) {
  std::string error;
  const std::string& image = testing::BusyboxImage(&error);
  ASSERT_FALSE(image.empty()) << error;
  const std::string group = UniqueName("group");
  Labels labels = TestLabels();
  labels["handoff.test.group"] = group;
  const std::string selector = "handoff.test.group=" + group;

  const DockerResult<std::string> network = engine().CreateNetwork(UniqueName("net"), labels);
  ASSERT_TRUE(network.ok()) << network.error().ToString();
  const std::string running = RunBusybox({"sleep", "300"}, ContainerSpec{.labels = labels});
  ASSERT_FALSE(running.empty());
  const std::string name = UniqueName("created");
  const DockerResult<std::string> created =
      engine().CreateContainer(ContainerSpec{.name = name, .image = image, .labels = labels});
  ASSERT_TRUE(created.ok()) << created.error().ToString();

  const auto containers = engine().ListContainers(selector);
  ASSERT_TRUE(containers.ok()) << containers.error().ToString();
  std::vector<std::string> states;
  for (const ContainerSummary& c : *containers) {
    states.push_back(c.state);
    EXPECT_EQ(c.labels.at("handoff.test.group"), group);
    EXPECT_EQ(c.image, image);
    if (c.id == *created) EXPECT_EQ(c.name, name);
  }
  EXPECT_THAT(states, UnorderedElementsAre("running", "created"));
  EXPECT_TRUE(engine().ListContainers("handoff.test.group=" + UniqueName("none"))->empty());

  // The cleanup a run does after a crash: everything with the label goes.
  for (const ContainerSummary& c : *containers) {
    const DockerStatus removed = engine().RemoveContainer(c.id);
    EXPECT_TRUE(removed.ok()) << removed.error().ToString();
  }
  const auto networks = engine().ListNetworks(selector);
  ASSERT_TRUE(networks.ok());
  ASSERT_EQ(networks->size(), 1u);
  for (const NetworkInfo& n : *networks) EXPECT_TRUE(engine().RemoveNetwork(n.id).ok());
  EXPECT_TRUE(engine().ListContainers(selector)->empty());
  EXPECT_TRUE(engine().ListNetworks(selector)->empty());
}

TEST_F(DockerTest, ListsImagesByLabelAndRemovesOneAContainerUsesOnlyByForce) {
  // Two small images FROM scratch with this test's labels; their contents differ.
  const std::string repository = UniqueName("image");
  const auto build = [&](const std::string& tag) {
    TarWriter context;
    context.AddFile("Dockerfile", "FROM scratch\nCOPY hello /hello\n");
    context.AddFile("hello", tag);
    return engine().BuildImage(repository + ":" + tag, context.Finish(), TestLabels());
  };
  const DockerResult<std::string> used = build("used");
  ASSERT_TRUE(used.ok()) << used.error().ToString();
  const DockerResult<std::string> unused = build("unused");
  ASSERT_TRUE(unused.ok()) << unused.error().ToString();

  const auto images = engine().ListImages(case_label());
  ASSERT_TRUE(images.ok()) << images.error().ToString();
  std::vector<std::vector<std::string>> tags;
  for (const ImageSummary& image : *images) {
    tags.push_back(image.tags);
    EXPECT_THAT(image.id, ::testing::AnyOf(*used, *unused));
    EXPECT_EQ(image.labels.at("handoff.test"), "1");
    EXPECT_GT(image.size, 0);
  }
  EXPECT_THAT(tags, UnorderedElementsAre(::testing::ElementsAre(repository + ":used"),
                                         ::testing::ElementsAre(repository + ":unused")));
  EXPECT_TRUE(engine().ListImages("handoff.test.group=" + UniqueName("none"))->empty());

  // A container, even one never started, holds its image against a removal without force.
  const DockerResult<std::string> container = engine().CreateContainer(ContainerSpec{
      .name = UniqueName("user"), .image = *used, .cmd = {"/hello"}, .labels = TestLabels()});
  ASSERT_TRUE(container.ok()) << container.error().ToString();
  const DockerStatus refused = engine().RemoveImage(repository + ":used", /*force=*/false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().status, 409) << refused.error().ToString();
  EXPECT_TRUE(engine().InspectImage(repository + ":used").ok());
  const DockerStatus removed = engine().RemoveImage(repository + ":unused", /*force=*/false);
  EXPECT_TRUE(removed.ok()) << removed.error().ToString();
  const DockerStatus gone = engine().RemoveImage(repository + ":unused", /*force=*/false);
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.error().not_found()) << gone.error().ToString();
  const DockerStatus forced = engine().RemoveImage(repository + ":used");
  EXPECT_TRUE(forced.ok()) << forced.error().ToString();
  EXPECT_TRUE(engine().ListImages(case_label())->empty());
}

TEST_F(DockerTest, ErrorsCarryTheStatusAndTheEngineMessage) {
  const std::string missing_image = UniqueName("no-such-image") + ":latest";
  const DockerResult<std::string> unknown = engine().CreateContainer(
      ContainerSpec{.name = UniqueName("x"), .image = missing_image, .labels = TestLabels()});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().status, 404);
  EXPECT_THAT(unknown.error().message, HasSubstr("No such image"));
  EXPECT_THAT(unknown.error().ToString(), HasSubstr("create container"));
  EXPECT_THAT(unknown.error().ToString(), HasSubstr("(HTTP 404)"));

  std::string error;
  const std::string& image = testing::BusyboxImage(&error);
  ASSERT_FALSE(image.empty()) << error;
  const ContainerSpec spec{.name = UniqueName("twice"), .image = image, .labels = TestLabels()};
  ASSERT_TRUE(engine().CreateContainer(spec).ok());
  const DockerResult<std::string> conflict = engine().CreateContainer(spec);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().status, 409);
  EXPECT_THAT(conflict.error().message, HasSubstr("already in use"));

  const DockerResult<ContainerInfo> nothing = engine().InspectContainer(UniqueName("nothing"));
  ASSERT_FALSE(nothing.ok());
  EXPECT_TRUE(nothing.error().not_found());
  EXPECT_THAT(nothing.error().message, HasSubstr("No such container"));

  const DockerResult<ImageInfo> no_image = engine().InspectImage(missing_image);
  ASSERT_FALSE(no_image.ok());
  EXPECT_TRUE(no_image.error().not_found());
  EXPECT_FALSE(engine().RemoveImage(missing_image).ok());
}

}  // namespace
}  // namespace handoff::workload
