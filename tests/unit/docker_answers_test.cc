#include "workload/docker_answers.h"

#include <gtest/gtest.h>

namespace handoff::workload {
namespace {

TEST(DockerAnswersTest, DecodesAnInspectedContainer) {
  const std::optional<ContainerInfo> info = DecodeContainer(R"({
    "Id": "ba033ac44011", "Name": "/web-1",
    "Config": {"Image": "busybox", "Labels": {"handoff": "1", "n": 2}},
    "State": {"Status": "exited", "Running": false, "ExitCode": 137, "OOMKilled": true},
    "NetworkSettings": {"Ports": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}],
                                  "53/udp": null},
                        "Networks": {"handoff-1": {"IPAddress": "172.18.0.2"}}}})");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->name, "web-1");
  EXPECT_EQ(info->image, "busybox");
  EXPECT_EQ(info->labels, (Labels{{"handoff", "1"}}));  // a label that is not a string is dropped
  EXPECT_EQ(info->status, "exited");
  EXPECT_EQ(info->exit_code, 137);
  EXPECT_TRUE(info->oom_killed);
  EXPECT_EQ(info->HostPort(8080), 49153);
  EXPECT_EQ(info->HostPort(53), 0);
  EXPECT_EQ(info->ip, "172.18.0.2");
}

TEST(DockerAnswersTest, AnswersThatAreNotTheJsonExpectedAreNullopt) {
  EXPECT_FALSE(DecodeContainer("[]").has_value());
  EXPECT_FALSE(DecodeContainers("{}").has_value());
  EXPECT_FALSE(DecodeCreatedId(R"({"Id":""})").has_value());
  EXPECT_FALSE(DecodeWait(R"({"Error":null})").has_value());
  EXPECT_FALSE(DecodeImage("not json").has_value());
  EXPECT_EQ(EngineMessage("  \n"), "no message");
  EXPECT_EQ(EngineMessage(R"({"message":"No such container: web"})"), "No such container: web");
}

TEST(DockerAnswersTest, ReadsTheWaitAndTheBuildStream) {
  const std::optional<WaitAnswer> wait =
      DecodeWait(R"({"StatusCode":0,"Error":{"Message":"container not running"}})");
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(wait->error, "container not running");
  const std::optional<BuildLine> line = DecodeBuildLine(R"({"aux":{"ID":"sha256:4b1c"}})");
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(line->image_id, "sha256:4b1c");
  EXPECT_EQ(ParseApiVersion("1.41"), std::make_pair(1, 41));
  EXPECT_EQ(ParseApiVersion("1"), std::make_pair(0, 0));
}

// Found with fuzz/docker_answers (UBSan): a number beyond int64's range was cast regardless.
TEST(DockerAnswersTest, NumbersBeyondInt64ReadAsZero) {
  const std::optional<ImageInfo> image = DecodeImage(R"({"Id":"sha256:4b1c","Size":1e400})");
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->size, 0);
  const std::optional<ExecState> exec = DecodeExecState(R"({"Running":false,"ExitCode":-1e300})");
  ASSERT_TRUE(exec.has_value());
  EXPECT_EQ(exec->exit_code, 0);
  EXPECT_EQ(DecodeImage(R"({"Size":1.5e9})")->size, 1'500'000'000);
}

}  // namespace
}  // namespace handoff::workload
