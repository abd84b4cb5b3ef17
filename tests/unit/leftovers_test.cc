// Finding and killing the processes below this one (src/worker/leftovers.h), with real
// processes: this test process is made a child subreaper for the time of each test, as
// the worker is.

#include "worker/leftovers.h"

#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

extern char** environ;

namespace handoff {
namespace {

using namespace std::chrono_literals;

bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

pid_t Spawn(std::vector<std::string> argv) {
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ), 0) << argv[0];
  return pid;
}

const ProcessInfo* Find(const std::vector<ProcessInfo>& all,
                        const std::function<bool(const ProcessInfo&)>& match) {
  auto it = std::find_if(all.begin(), all.end(), match);
  return it == all.end() ? nullptr : &*it;
}

std::vector<pid_t> Everything(const std::vector<ProcessInfo>& all) {
  std::vector<pid_t> pids;
  for (const ProcessInfo& p : all) pids.push_back(p.pid);
  return pids;
}

class LeftoversTest : public ::testing::Test {
 protected:
  LeftoversTest() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~LeftoversTest() override {
    KillLeftovers(Everything, 10s);
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }
};

TEST_F(LeftoversTest, ListsGrandchildrenAfterTheirParentsAndKillsAndReapsThemAll) {
  ASSERT_FALSE(HasChildren());
  const pid_t sh = Spawn({"/bin/sh", "-c", "sleep 600 & wait"});
  ASSERT_GT(sh, 0);
  EXPECT_TRUE(HasChildren());
  std::vector<ProcessInfo> all;
  ASSERT_TRUE(Eventually(
      [&] {
        all = ListDescendants();
        return Find(all, [](const ProcessInfo& p) { return p.name == "sleep"; }) != nullptr;
      },
      10s));
  const ProcessInfo* shell = Find(all, [&](const ProcessInfo& p) { return p.pid == sh; });
  const ProcessInfo* sleep = Find(all, [](const ProcessInfo& p) { return p.name == "sleep"; });
  ASSERT_NE(shell, nullptr);
  ASSERT_NE(sleep, nullptr);
  EXPECT_EQ(shell->ppid, ::getpid());
  EXPECT_EQ(shell->name, "sh");
  EXPECT_EQ(shell->pgid, ::getpgrp());
  EXPECT_GT(shell->start_ticks, 0u);
  EXPECT_EQ(sleep->ppid, sh);
  EXPECT_LT(shell - all.data(), sleep - all.data()) << "a parent comes before its children";
  const pid_t sleep_pid = sleep->pid;

  const KillReport report = KillLeftovers(Everything, 10s);
  EXPECT_TRUE(report.complete);
  EXPECT_TRUE(report.survivors.empty());
  std::vector<pid_t> killed;
  for (const ProcessInfo& p : report.killed) killed.push_back(p.pid);
  std::sort(killed.begin(), killed.end());
  std::vector<pid_t> want = {sh, sleep_pid};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(killed, want);
  // Reaped, not zombies: this process has no child left, and the pids name nothing.
  EXPECT_FALSE(HasChildren());
  EXPECT_EQ(::kill(sh, 0), -1);
  EXPECT_EQ(::kill(sleep_pid, 0), -1);
}

TEST_F(LeftoversTest, KillsOnlyWhatTheSelectorPicksAndReapsZombies) {
  const pid_t keep = Spawn({"/bin/sleep", "600"});
  const pid_t kill = Spawn({"/bin/sleep", "601"});
  const pid_t zombie = Spawn({"/bin/true"});
  ASSERT_TRUE(Eventually(
      [&] {
        const std::vector<ProcessInfo> all = ListDescendants();
        const ProcessInfo* z = Find(all, [&](const ProcessInfo& p) { return p.pid == zombie; });
        return z != nullptr && z->state == 'Z';
      },
      10s));
  const KillReport report = KillLeftovers(
      [&](const std::vector<ProcessInfo>&) { return std::vector<pid_t>{kill, zombie}; }, 10s);
  ASSERT_EQ(report.killed.size(), 1u) << "a zombie is reaped, not counted as killed";
  EXPECT_EQ(report.killed[0].pid, kill);
  ASSERT_EQ(report.survivors.size(), 1u);
  EXPECT_EQ(report.survivors[0].pid, keep);
  EXPECT_EQ(::kill(zombie, 0), -1) << "the zombie was reaped";
  EXPECT_EQ(::kill(keep, 0), 0);
}

TEST_F(LeftoversTest, ReadsNamesWithSpacesAndParentheses) {
  const std::string dir = ::testing::TempDir() + "/leftovers-names";
  std::filesystem::create_directories(dir);
  const std::string odd = dir + "/a) (b c";
  std::filesystem::remove(odd);
  std::filesystem::create_symlink("/bin/sleep", odd);
  const pid_t pid = Spawn({odd, "600"});
  std::vector<ProcessInfo> all;
  ASSERT_TRUE(Eventually(
      [&] {
        all = ListDescendants();
        const ProcessInfo* p = Find(all, [&](const ProcessInfo& p) { return p.pid == pid; });
        return p != nullptr && p->name == "a) (b c";
      },
      10s));
  const ProcessInfo* p = Find(all, [&](const ProcessInfo& p) { return p.pid == pid; });
  EXPECT_EQ(p->ppid, ::getpid());
  EXPECT_NE(p->state, 'Z');
  EXPECT_EQ(DescribeProcesses({*p}), std::to_string(pid) + " (a) (b c)");
  std::filesystem::remove_all(dir);
}

TEST_F(LeftoversTest, NeverKillsACleanupProcess) {
  const pid_t reaper = ::fork();
  if (reaper == 0) {
    ::prctl(PR_SET_NAME, kCleanupProcessName);
    ::pause();
    ::_exit(0);
  }
  ASSERT_TRUE(Eventually(
      [&] {
        const std::vector<ProcessInfo> all = ListDescendants();
        return Find(all, [&](const ProcessInfo& p) {
                 return p.pid == reaper && p.name == kCleanupProcessName;
               }) != nullptr;
      },
      10s));
  const KillReport report = KillLeftovers(Everything, 10s);
  EXPECT_TRUE(report.killed.empty());
  EXPECT_EQ(::kill(reaper, 0), 0);
  ::kill(reaper, SIGKILL);
  ::waitpid(reaper, nullptr, 0);
}

}  // namespace
}  // namespace handoff
