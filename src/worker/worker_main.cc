#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include "event/wire.h"
#include "external/external_runner.h"
#include "runner/runner.h"
#include "worker/guardian.h"
#include "worker/leftovers.h"
#include "worker/stack_dump.h"
#include "worker/worker.h"

namespace handoff {
namespace {

// Bytes of stdout/stderr kept per (sub)test: the first kHeadBytes are sent as they come,
// then only the last kTailBytes are kept (sent when the test ends) and the middle is
// counted and dropped, so a test that floods output costs the parent nothing.
constexpr std::size_t kHeadBytes = 512 << 10;
constexpr std::size_t kTailBytes = 512 << 10;
// A captured line longer than this is split.
constexpr std::size_t kMaxLine = 64 << 10;

bool WriteAll(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Sends events to the supervisor. Events are buffered and written: before each top-level
// test starts (so the supervisor always knows which test is running when a worker dies),
// when the buffer is large, every few milliseconds from a flusher thread (live output of
// long tests), and from the crash handlers below.
class PipeSink : public EventSink {
 public:
  explicit PipeSink(int fd) : fd_(fd) { buffer_.reserve(1 << 16); }

  void OnEvent(const Event& e) override {
    std::lock_guard lock(mu_);
    wire::AppendEvent(buffer_, e);
    const bool boundary =
        (e.kind == EventKind::kTestStarted && e.test.find('/') == std::string::npos) ||
        e.kind == EventKind::kSetupStarted || e.kind == EventKind::kTeardownStarted;
    if (boundary || buffer_.size() >= (1 << 16)) FlushLocked();
  }

  void Flush() override {
    std::lock_guard lock(mu_);
    FlushLocked();
  }

  // From a signal handler: writes what is buffered unless another thread is mid-write.
  void FlushFromSignal() {
    for (int i = 0; i < 1000; ++i) {
      if (mu_.try_lock()) {
        FlushLocked();
        return;  // Keep the lock: the process is about to die.
      }
      ::usleep(100);
    }
  }

 private:
  void FlushLocked() {
    if (buffer_.empty() || broken_) return;
    if (!WriteAll(fd_, buffer_.data(), buffer_.size())) broken_ = true;
    buffer_.clear();
  }
  int fd_;
  std::mutex mu_;
  std::string buffer_;
  bool broken_ = false;
};

// Reads what fds 1 and 2 receive (through the pipe whose read end is kCaptureFd) and
// turns it into output events of the current (sub)test.
class PipeCapture : public OutputCapture {
 public:
  PipeCapture(int fd, EventSink& sink, const std::string& suite)
      : fd_(fd),
        wake_(::eventfd(0, EFD_CLOEXEC)),
        sink_(sink),
        suite_(suite),
        reader_([this] {
          // Named so that a dump of a hung test's threads leaves it out.
          ::pthread_setname_np(::pthread_self(), "handoff-output");
          ReadLoop();
        }) {}

  ~PipeCapture() override {
    quit_.store(true);
    std::uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
    reader_.join();
    ::close(wake_);
  }

  void Enter(const std::string& test) override {
    FlushStdio();
    std::lock_guard lock(mu_);
    // A test right after another: only the runner ran since that one's Leave drained the
    // pipe, so whatever came since was written by something running on its own, and may
    // as well be the new test's. Not reading spares a system call per test, which pays
    // for the look for leftover processes at each test's end (LeftoverSweeper).
    if (!(stack_.empty() && just_left_)) {
      DrainLocked();
      EmitPartialLocked();
    }
    just_left_ = false;
    stack_.push_back(Frame{test, 0, 0, {}, 0});
  }

  void Leave() override {
    FlushStdio();
    std::lock_guard lock(mu_);
    DrainLocked();
    EmitPartialLocked();
    if (stack_.empty()) return;
    Frame& f = stack_.back();
    if (f.dropped > 0) {
      SendLocked(fmt::format("[handoff: {} bytes of output dropped; first {} and last {} bytes kept]",
                             f.dropped, kHeadBytes, kTailBytes));
    }
    for (const std::string& line : f.tail) SendLocked(line);
    stack_.pop_back();
    just_left_ = stack_.empty();
  }

  void Sync() override {
    FlushStdio();
    std::lock_guard lock(mu_);
    DrainLocked();
  }

  // Emits what is left, at the end of the worker.
  void Finish() {
    FlushStdio();
    std::lock_guard lock(mu_);
    DrainLocked();
    EmitPartialLocked();
  }

  // For exit(): emits what the pipe holds and keeps the lock, so the reader thread cannot
  // take output it would never get to send.
  void DrainForExit() {
    mu_.lock();
    DrainLocked();
    EmitPartialLocked();
  }

  // For a crash signal: takes the lock (unless another thread keeps it) and keeps it, so
  // no output is in flight between the pipe and the event buffer; what is still in the
  // pipe is read by the supervisor as the test's last output.
  void HoldFromSignal() {
    for (int i = 0; i < 1000; ++i) {
      if (mu_.try_lock()) return;
      ::usleep(100);
    }
  }

 private:
  struct Frame {
    std::string test;
    std::size_t head = 0;  // bytes sent live
    std::size_t dropped = 0;
    std::deque<std::string> tail;
    std::size_t tail_bytes = 0;
  };

  void ReadLoop() {
    while (!quit_.load()) {
      pollfd p[2] = {{fd_, POLLIN, 0}, {wake_, POLLIN, 0}};
      if (::poll(p, 2, -1) > 0 && (p[0].revents & POLLIN) != 0) {
        std::lock_guard lock(mu_);
        DrainLocked();
      }
    }
  }

  // Called by the test's thread before it takes the lock: the reader thread must never
  // flush stdio itself (a test blocked in fwrite holds stdout's lock until the pipe is
  // drained), and holding mu_ while flushing into a full pipe would deadlock with it.
  static void FlushStdio() {
    std::cout.flush();
    std::cerr.flush();
    std::fflush(stdout);
    std::fflush(stderr);
  }

  void DrainLocked() {
    char buf[1 << 16];
    while (true) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return;  // EAGAIN: nothing more for now
      partial_.append(buf, static_cast<std::size_t>(n));
      std::size_t start = 0;
      while (true) {
        std::size_t nl = partial_.find('\n', start);
        if (nl == std::string::npos) break;
        EmitLocked(std::string_view(partial_).substr(start, nl - start));
        start = nl + 1;
      }
      partial_.erase(0, start);
      while (partial_.size() >= kMaxLine) {
        EmitLocked(std::string_view(partial_).substr(0, kMaxLine));
        partial_.erase(0, kMaxLine);
      }
    }
  }

  void EmitPartialLocked() {
    if (partial_.empty()) return;
    EmitLocked(partial_);
    partial_.clear();
  }

  void EmitLocked(std::string_view line) {
    if (!stack_.empty()) {
      Frame& f = stack_.back();
      if (f.head + line.size() + 1 > kHeadBytes) {
        f.tail.emplace_back(line);
        f.tail_bytes += line.size() + 1;
        while (f.tail_bytes > kTailBytes) {
          f.tail_bytes -= f.tail.front().size() + 1;
          f.dropped += f.tail.front().size() + 1;
          f.tail.pop_front();
        }
        return;
      }
      f.head += line.size() + 1;
    }
    SendLocked(line);
  }

  void SendLocked(std::string_view line) {
    Event e;
    e.kind = EventKind::kOutput;
    e.time_ns = NowNs();
    e.suite = suite_;
    if (!stack_.empty()) e.test = stack_.back().test;
    e.text = line;
    sink_.OnEvent(e);
  }

  int fd_;
  int wake_;  // eventfd: ends ReadLoop at once
  EventSink& sink_;
  const std::string& suite_;
  std::mutex mu_;
  std::string partial_;
  std::vector<Frame> stack_;
  bool just_left_ = false;  // a top-level test's Leave drained the pipe last
  std::atomic<bool> quit_{false};
  std::thread reader_;
};

PipeSink* g_sink = nullptr;
PipeCapture* g_capture = nullptr;
std::atomic<bool> g_terminate{false};

// Before a crashing or hung worker's stacks go to the supervisor: no output is in flight
// between the pipe and the event buffer, and what is buffered is written first.
void Quiesce() {
  if (g_capture != nullptr) g_capture->HoldFromSignal();
  if (g_sink != nullptr) g_sink->FlushFromSignal();
}

void OnTerminate(int) { g_terminate.store(true); }

// kReleaseHoldSignal: the held test goes on with its cleanups.
std::atomic<bool> g_release{false};
void OnRelease(int) { g_release.store(true); }

// A test called exit(): send everything it reported and printed.
void FlushAtExit() {
  std::fflush(stdout);
  std::fflush(stderr);
  if (g_capture != nullptr) g_capture->DrainForExit();
  if (g_sink != nullptr) g_sink->Flush();
}

std::optional<wire::WorkerPlan> ReadPlan() {
  std::string data;
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(kPlanFd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  wire::FrameReader frames;
  frames.Feed(data);
  auto payload = frames.Next();
  if (!payload) return std::nullopt;
  return wire::DecodePlan(*payload);
}

// Flushes buffered events every few milliseconds until it is stopped, calling `tick` first
// each time (to turn SIGTERM into a cancellation of the running test).
class Flusher {
 public:
  Flusher(PipeSink& sink, std::function<void()> tick)
      : thread_([this, &sink, tick = std::move(tick)] {
          ::pthread_setname_np(::pthread_self(), "handoff-flush");
          std::unique_lock lock(mu_);
          while (!cv_.wait_for(lock, std::chrono::milliseconds(5), [&] { return done_; })) {
            if (tick) tick();
            sink.Flush();
          }
        }) {}
  // Stops and joins the thread.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  ~Flusher() { Stop(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// An external suite's plan: its command runs below this worker (and so below its guardian),
// and what it reports reaches the supervisor as a C++ suite's events do.
void RunExternalPlan(const wire::WorkerPlan& plan, PipeSink& sink) {
  // The worker's own stdout and stderr (the command's are its own pipes).
  PipeCapture capture(kCaptureFd, sink, plan.suite);
  g_capture = &capture;
  Flusher flusher(sink, nullptr);
  external::RunCommand(plan, sink, g_terminate);
  capture.Finish();
  flusher.Stop();
  g_capture = nullptr;
}

}  // namespace

int WorkerMain(const Catalog& catalog) {
  // From here on this is the worker, below a guardian that kills what it leaves behind
  // when it ends, and that dies with the supervisor (see worker/guardian.h).
  SplitGuardian();
  // Line-buffered stdout: what a test printed before it crashed reaches the pipe.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // Children that tests start must not inherit the plan, event or capture descriptors.
  for (int fd : {kPlanFd, kEventFd, kCaptureFd}) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::fcntl(kCaptureFd, F_SETFL, ::fcntl(kCaptureFd, F_GETFL) | O_NONBLOCK);
  ::signal(SIGPIPE, SIG_IGN);

  std::optional<wire::WorkerPlan> plan = ReadPlan();
  ::close(kPlanFd);
  if (!plan) {
    std::fprintf(stderr, "handoff worker: malformed plan\n");
    return 2;
  }
  // An external suite's plan carries its command: it needs no suite of the catalog.
  const Suite* suite = plan->external ? nullptr : catalog.Find(plan->suite);
  if (!plan->external && suite == nullptr) {
    std::fprintf(stderr, "handoff worker: unknown suite \"%s\"\n", plan->suite.c_str());
    return 2;
  }

  // Never destroyed: exit() from a test runs static destructors while threads still use it.
  PipeSink& sink = *new PipeSink(kEventFd);
  g_sink = &sink;
  InstallStackHandlers(kEventFd, Quiesce);
  ::signal(SIGTERM, OnTerminate);
  ::signal(kReleaseHoldSignal, OnRelease);
  std::atexit(FlushAtExit);

  if (plan->external) {
    RunExternalPlan(*plan, sink);
  } else {
    PipeCapture capture(kCaptureFd, sink, suite->name);
    g_capture = &capture;
    SuiteRunner runner(*suite, *plan, sink, &capture);
    // What a test leaves running dies when it ends; what setup started, with the suite.
    LeftoverSweeper sweeper;
    runner.set_sweeper(&sweeper);
    std::string error = runner.Prepare();
    if (!error.empty()) {
      std::fprintf(stderr, "handoff worker: %s\n", error.c_str());
      return 2;
    }
    // Flushes buffered events every few milliseconds and turns SIGTERM into a
    // cooperative cancellation of the running test, kReleaseHoldSignal into a release.
    Flusher flusher(sink, [&runner] {
      if (g_terminate.load()) runner.Cancel();
      if (g_release.exchange(false)) runner.ReleaseHold();
    });
    runner.Run();
    sweeper.SweepSuite();
    capture.Finish();
    flusher.Stop();
    g_capture = nullptr;
  }
  sink.Flush();
  std::fflush(nullptr);
  // Skip static destructors of test code: the plan is done and reported.
  ::_exit(0);
}

}  // namespace handoff
