#include "worker/stack_dump.h"

#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "event/event.h"
#include "event/wire.h"
#include "stack/raw_stacks.h"
#include "stack/stack_capture.h"
#include "worker/worker.h"

namespace handoff {
namespace {

using stack::kMaxFrames;
using stack::kMaxThreads;

// How long the thread that takes a dump waits for the others to answer.
constexpr std::int64_t kAnswerWithinNs = 1'000'000'000;

int g_event_fd = -1;
void (*g_quiesce)() = nullptr;

// The text, and the frame that carries it. Static: a handler must not allocate.
char g_text[512 << 10];
char g_frame[(512 << 10) + 256];

// One thread's answer to a dump.
struct Slot {
  std::atomic<pid_t> tid{0};
  std::atomic<bool> done{false};
  int count = 0;
  std::uintptr_t frames[kMaxFrames];
};
Slot g_slots[kMaxThreads];
std::atomic<int> g_slot_count{0};
std::atomic<bool> g_dumping{false};
std::atomic<bool> g_crashing{false};
// Held while a handler writes g_text/g_frame and the pipe: a crash during a dump waits.
std::atomic<bool> g_sending{false};
// The worker's pid: a process a test forked inherits the handlers, and must not report.
pid_t g_pid = 0;
// The handlers that were there before ours (the default, or a sanitizer's), for the end.
struct sigaction g_previous[NSIG];

alignas(16) char g_alt_stack[64 << 10];

std::int64_t MonotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void Lock() {
  while (g_sending.exchange(true, std::memory_order_acquire)) {
    timespec ms{0, 1'000'000};
    ::nanosleep(&ms, nullptr);
  }
}

void Unlock() { g_sending.store(false, std::memory_order_release); }

// Writes `text` as one kStacks frame; the caller holds the lock (g_text is its text).
void Send(std::string_view text) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const std::int64_t time_ns = static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
  std::size_t size = wire::EncodeStacks(g_frame, sizeof g_frame, time_ns, text);
  const char* p = g_frame;
  while (size > 0) {
    const ssize_t n = ::write(g_event_fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

// Ends the crash the way the process would have without us: the previous handler (a
// sanitizer's report) or the default action, with the same signal.
void EndCrash(int sig) {
  ::sigaction(sig, &g_previous[sig], nullptr);
  // A fault re-raises by itself when the handler returns; a raised signal is raised again.
  ::raise(sig);
}

void OnCrash(int sig, siginfo_t*, void* ucontext) {
  if (::getpid() != g_pid) return EndCrash(sig);  // a process a test forked
  if (g_crashing.exchange(true)) {
    // Another thread is crashing and reports for the process, which it is about to end.
    for (;;) ::pause();
  }
  // What the test reported and printed goes first, whatever happens below.
  if (g_quiesce != nullptr) g_quiesce();
  std::uintptr_t frames[kMaxFrames];
  const int count = stack::CaptureStack(ucontext, frames, kMaxFrames);
  const pid_t tid = stack::ThreadId();
  Lock();  // kept: the process ends
  stack::SignalSafeWriter w(g_text, sizeof g_text);
  w.Str("crash ");
  w.Dec(sig);
  w.Char(' ');
  w.Dec(tid);
  w.Char('\n');
  stack::WriteThread(w, tid);
  stack::WriteFrames(w, frames, count);
  stack::WriteMappings(w);
  Send(w.view());
  EndCrash(sig);
}

void AddSlot(pid_t tid, void*) {
  const int i = g_slot_count.load(std::memory_order_relaxed);
  if (i >= kMaxThreads) return;
  g_slots[i].done.store(false, std::memory_order_relaxed);
  g_slots[i].count = 0;
  g_slots[i].tid.store(tid, std::memory_order_relaxed);
  g_slot_count.store(i + 1, std::memory_order_release);
}

void OnDump(int, siginfo_t* info, void* ucontext) {
  const int saved_errno = errno;
  const pid_t self = stack::ThreadId();
  const pid_t pid = ::getpid();
  if (pid != g_pid) return;  // a process a test forked
  // Only the guardian asks for a dump (kill), and only this process's dumping thread asks a
  // thread for its frames (tgkill): any other SIGUSR2 (a test's own) is ignored.
  const bool asked_by_guardian = info->si_code == SI_USER && info->si_pid == ::getppid();
  const bool asked_by_dump = info->si_code == SI_TKILL && info->si_pid == pid;
  if (!asked_by_guardian && !asked_by_dump) {
    errno = saved_errno;
    return;
  }
  if (asked_by_dump || g_dumping.exchange(true)) {
    if (!g_dumping.load()) {
      errno = saved_errno;
      return;
    }
    // Asked by the thread taking the dump: answer with this thread's frames.
    const int n = g_slot_count.load(std::memory_order_acquire);
    for (int i = 0; i < n; ++i) {
      Slot& slot = g_slots[i];
      if (slot.tid.load(std::memory_order_relaxed) == self && !slot.done.load()) {
        slot.count = stack::CaptureStack(ucontext, slot.frames, kMaxFrames);
        slot.done.store(true, std::memory_order_release);
      }
    }
    errno = saved_errno;
    return;
  }
  // This thread takes the dump: list the threads, ask each for its frames, wait for them.
  g_slot_count.store(0);
  stack::ForEachThread(AddSlot, nullptr);
  const int n = g_slot_count.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    Slot& slot = g_slots[i];
    const pid_t tid = slot.tid.load(std::memory_order_relaxed);
    if (tid == self) {
      slot.count = stack::CaptureStack(ucontext, slot.frames, kMaxFrames);
      slot.done.store(true, std::memory_order_release);
    } else if (::syscall(SYS_tgkill, pid, tid, kDumpStacksSignal) != 0) {
      slot.tid.store(0);  // it ended meanwhile
    }
  }
  const std::int64_t give_up = MonotonicNs() + kAnswerWithinNs;
  for (;;) {
    bool all = true;
    for (int i = 0; i < n; ++i) {
      if (g_slots[i].tid.load() != 0 && !g_slots[i].done.load(std::memory_order_acquire)) all = false;
    }
    if (all || MonotonicNs() >= give_up) break;
    timespec ms{0, 1'000'000};
    ::nanosleep(&ms, nullptr);
  }
  if (g_quiesce != nullptr) g_quiesce();
  Lock();
  stack::SignalSafeWriter w(g_text, sizeof g_text);
  w.Str("dump\n");
  for (int i = 0; i < n; ++i) {
    Slot& slot = g_slots[i];
    const pid_t tid = slot.tid.load();
    if (tid == 0) continue;
    stack::WriteThread(w, tid);
    if (slot.done.load(std::memory_order_acquire)) {
      stack::WriteFrames(w, slot.frames, slot.count);
    } else {
      w.Str("silent\n");
    }
  }
  stack::WriteMappings(w);
  Send(w.view());
  Unlock();
  // g_dumping stays set: the supervisor kills this process next.
  errno = saved_errno;
}

}  // namespace

void InstallStackHandlers(int event_fd, void (*quiesce)()) {
  g_event_fd = event_fd;
  g_quiesce = quiesce;
  stack::PrepareStackCapture();
  // A stack overflow leaves no stack to handle SIGSEGV on: the main thread gets another.
  stack_t alt{};
  alt.ss_sp = g_alt_stack;
  alt.ss_size = sizeof g_alt_stack;
  ::sigaltstack(&alt, nullptr);
  g_pid = ::getpid();
  constexpr int kCrashSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
  // Neither handler is interrupted by the other on the same thread.
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : kCrashSignals) sigaddset(&mask, sig);
  sigaddset(&mask, kDumpStacksSignal);
  struct sigaction crash {};
  crash.sa_sigaction = OnCrash;
  crash.sa_flags = SA_SIGINFO | SA_ONSTACK;
  crash.sa_mask = mask;
  for (int sig : kCrashSignals) ::sigaction(sig, &crash, &g_previous[sig]);
  struct sigaction dump {};
  dump.sa_sigaction = OnDump;
  dump.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  dump.sa_mask = mask;
  ::sigaction(kDumpStacksSignal, &dump, nullptr);
}

}  // namespace handoff
