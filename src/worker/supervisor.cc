#include "worker/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>
#include <condition_variable>
#include <mutex>
#include <set>
#include <span>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "duration/duration.h"
#include "event/attachment.h"
#include "external/external_runner.h"
#include "runner/runner.h"
#include "stack/raw_stacks.h"
#include "stack/symbolizer.h"
#include "worker/worker.h"

extern char** environ;

namespace handoff {
namespace {

// A worker's pipe is outside input: an attachment that breaks t.Attach's rules (a name with
// a path in it, a media type that is not one, a size over the bound) becomes a failure of
// its test instead of reaching a file or the store.
void RejectInvalidAttachment(Event& e) {
  std::string why = CheckAttachmentName(e.key);
  if (why.empty()) why = CheckMediaType(e.file);
  if (why.empty() && e.text.size() > kMaxAttachmentBytes) {
    why = fmt::format("{} bytes, over the limit of {}", e.text.size(), kMaxAttachmentBytes);
  }
  if (why.empty()) return;
  e.kind = EventKind::kFailure;
  e.text = "the worker sent an attachment that was not kept: " + why;
  e.key.clear();
  e.file.clear();
}

using Clock = std::chrono::steady_clock;

// Guardians of running workers, for KillAllWorkers (lock-free: used from a signal
// handler). --jobs beyond the table's size only loses this last-resort cleanup (the
// guardians still kill everything when this process dies).
constexpr int kMaxTrackedWorkers = 256;
std::atomic<pid_t> g_workers[kMaxTrackedWorkers];

void TrackWorker(pid_t pid) {
  for (std::atomic<pid_t>& slot : g_workers) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return;
  }
}

void UntrackWorker(pid_t pid) {
  for (std::atomic<pid_t>& slot : g_workers) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

// Follows a suite's events as they pass to the sinks: which tests are running (several
// under --parallel), their deadlines, what has finished, and the suite's status.
class SuiteTracker : public EventSink {
 public:
  enum class Phase { kIdle, kSetup, kTest, kTeardown };

  // A top-level test in flight.
  struct Running {
    int attempt = 0;
    Clock::time_point start;
    std::vector<std::string> open;  // its open subtests, outermost first
    Clock::time_point deadline = Clock::time_point::max();
    std::int64_t timeout_ns = 0;
    // Its attempt ended and its end is held back (an external suite retries it): a worker
    // that dies now leaves it with that attempt's outcome.
    bool attempt_done = false;
    Status attempt_status = Status::kPassed;
  };

  SuiteTracker(const SuiteJob& job, EventSink& out) : job_(job), out_(out) {
    timeouts_.reserve(job.plan.tests.size());
    for (const wire::PlannedTest& t : job.plan.tests) timeouts_.emplace(t.name, t.timeout_ms);
    if (job.plan.external && job.plan.hook_timeout_ms > 0) {
      // An external suite's worker stops its command at the timeout of each attempt; should
      // it not, the worker is killed once every attempt has had its timeout and grace.
      const std::int64_t grace_ms = std::chrono::duration_cast<std::chrono::milliseconds>(job.grace).count();
      const std::int64_t ms = std::max(1, job.plan.max_attempts) * (job.plan.hook_timeout_ms + 2 * grace_ms) + 10'000;
      SetDeadline(&hook_deadline_, &hook_timeout_ns_, ms * 1'000'000);
    }
  }

  void OnEvent(const Event& e) override {
    const std::size_t slash = e.test.find('/');
    const bool top_level = !e.test.empty() && slash == std::string::npos;
    switch (e.kind) {
      case EventKind::kSetupStarted:
      case EventKind::kTeardownStarted:
        phase = e.kind == EventKind::kSetupStarted ? Phase::kSetup : Phase::kTeardown;
        SetDeadline(&hook_deadline_, &hook_timeout_ns_, job_.plan.hook_timeout_ms * 1'000'000);
        break;
      case EventKind::kSetupFinished:
        phase = Phase::kIdle;
        hook_deadline_ = Clock::time_point::max();
        if (e.status == Status::kFailed) setup_failed = true;
        break;
      case EventKind::kTeardownFinished:
        phase = Phase::kIdle;
        hook_deadline_ = Clock::time_point::max();
        if (e.status == Status::kFailed) teardown_failed = true;
        break;
      case EventKind::kTestStarted:
        if (top_level) {
          phase = Phase::kTest;
          Running& r = running[e.test];
          r = Running{};
          r.attempt = e.attempt;
          r.start = Clock::now();
          auto it = timeouts_.find(e.test);
          SetDeadline(&r.deadline, &r.timeout_ns, it == timeouts_.end() ? 0 : it->second * 1'000'000);
        } else if (auto it = running.find(std::string_view(e.test).substr(0, slash)); it != running.end()) {
          it->second.open.push_back(e.test);
        }
        break;
      case EventKind::kHeld:
        // A held test's timeout stands still (the worker's watchdog's too), and so does
        // every other deadline of this worker: none of its tests can be killed alone.
        held = true;
        held_once = true;
        held_since_ = Clock::now();
        break;
      case EventKind::kReleased:
        if (held) {
          held = false;
          const Clock::duration paused = Clock::now() - held_since_;
          auto shift = [&](Clock::time_point& d) {
            if (d != Clock::time_point::max()) d += paused;
          };
          shift(hook_deadline_);
          for (auto& [name, r] : running) shift(r.deadline);
        }
        break;
      case EventKind::kTimeoutChanged:
        if (e.test.empty()) {
          SetDeadline(&hook_deadline_, &hook_timeout_ns_, e.elapsed_ns);
        } else if (auto it = running.find(std::string_view(e.test).substr(0, slash)); it != running.end()) {
          SetDeadline(&it->second.deadline, &it->second.timeout_ns, e.elapsed_ns);
        }
        break;
      case EventKind::kAttemptFinished:
        if (auto it = running.find(e.test); it != running.end()) {
          it->second.attempt_done = true;
          it->second.attempt_status = e.status;
        }
        break;
      case EventKind::kFailure:
        // An external suite's command failed outside any test (a build error, a report that
        // cannot be read, a non-zero exit without a failed test): the suite failed.
        if (e.test.empty() && !e.soft && job_.plan.external) suite_failed = true;
        break;
      case EventKind::kTestFinished:
        if (top_level) {
          finished.insert(e.test);
          running.erase(e.test);
          if (running.empty()) phase = Phase::kIdle;
          ++finished_count;
          if (e.status == Status::kFailed && !e.soft) hard_failure = true;
          if (e.status == Status::kSkipped) ++skipped_count;
        } else if (auto it = running.find(std::string_view(e.test).substr(0, slash));
                   it != running.end() && !it->second.open.empty()) {
          it->second.open.pop_back();
        }
        break;
      default:
        break;
    }
    out_.OnEvent(e);
  }

  void Flush() override { out_.Flush(); }

  // Returns the earliest deadline of what runs now (setup, teardown or tests), and
  // in *test the test it belongs to (empty for setup and teardown).
  Clock::time_point Deadline(std::string* test = nullptr, std::int64_t* timeout_ns = nullptr) const {
    if (test != nullptr) test->clear();
    if (timeout_ns != nullptr) *timeout_ns = hook_timeout_ns_;
    if (held) return Clock::time_point::max();
    Clock::time_point earliest = hook_deadline_;
    for (const auto& [name, r] : running) {
      if (r.deadline < earliest) {
        earliest = r.deadline;
        if (test != nullptr) *test = name;
        if (timeout_ns != nullptr) *timeout_ns = r.timeout_ns;
      }
    }
    return earliest;
  }

  // Forgets every deadline (the worker is being killed).
  void ClearDeadlines() {
    hook_deadline_ = Clock::time_point::max();
    for (auto& [name, r] : running) r.deadline = Clock::time_point::max();
  }

  Status SuiteStatus() const {
    if (hard_failure || setup_failed || teardown_failed || suite_failed) return Status::kFailed;
    if (finished_count > 0 && skipped_count == finished_count) return Status::kSkipped;
    return Status::kPassed;
  }

  // Emits an event for the suite with the common fields filled in.
  Event Make(EventKind kind, std::string test = {}) const {
    Event e;
    e.kind = kind;
    e.time_ns = NowNs();
    e.suite = job_.suite->name;
    e.test = std::move(test);
    return e;
  }

  Phase phase = Phase::kIdle;
  std::map<std::string, Running, std::less<>> running;  // top-level tests in flight
  std::set<std::string> finished;
  bool setup_failed = false;
  bool teardown_failed = false;
  bool suite_failed = false;  // an external suite's command failed outside its tests
  bool hard_failure = false;
  bool held = false;       // a test of the worker is held (hold on failure)
  bool held_once = false;  // a test of the suite was held: one hold a run
  int finished_count = 0;
  int skipped_count = 0;

 private:
  static void SetDeadline(Clock::time_point* deadline, std::int64_t* timeout_ns, std::int64_t ns) {
    *timeout_ns = ns;
    *deadline = ns > 0 ? Clock::now() + std::chrono::nanoseconds(ns) : Clock::time_point::max();
  }
  const SuiteJob& job_;
  EventSink& out_;
  // Each planned test's timeout, by its name in job_.plan (which outlives the tracker).
  std::unordered_map<std::string_view, std::int64_t> timeouts_;
  Clock::time_point hook_deadline_ = Clock::time_point::max();
  std::int64_t hook_timeout_ns_ = 0;
  Clock::time_point held_since_;
};

const std::string& SelfExe() {
  static const std::string path = [] {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }();
  return path;
}

struct Pipe {
  int read = -1, write = -1;
};

std::optional<Pipe> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  // Larger pipes mean fewer wake-ups when a worker reports many fast tests.
  ::fcntl(fds[0], F_SETPIPE_SZ, 1 << 20);
  return Pipe{fds[0], fds[1]};
}

// A running worker process and the parent's ends of its pipes.
struct Worker {
  pid_t pid = -1;  // the worker's guardian (worker/guardian.h): the process we started
  int events = -1;   // read end of the event pipe
  int capture = -1;  // read end of the output pipe (read only after the worker died)
};

// Starts a worker for `plan`'s suite to run `tests` (or, with `teardown_only`, only its setup
// and teardown). Returns nullopt and sets *error on failure.
std::optional<Worker> Spawn(const wire::WorkerPlan& plan, std::span<const wire::PlannedTest> tests,
                            bool teardown_only, std::string* error) {
  int plan_fd = ::memfd_create("handoff-plan", MFD_CLOEXEC);
  std::string encoded = wire::EncodePlan(plan, tests, teardown_only);
  if (plan_fd < 0 || ::write(plan_fd, encoded.data(), encoded.size()) !=
                         static_cast<ssize_t>(encoded.size()) ||
      ::lseek(plan_fd, 0, SEEK_SET) != 0) {
    *error = fmt::format("cannot write the worker plan: {}", ::strerror(errno));
    if (plan_fd >= 0) ::close(plan_fd);
    return std::nullopt;
  }
  std::optional<Pipe> events = MakePipe();
  std::optional<Pipe> output = MakePipe();
  if (!events || !output) {
    *error = fmt::format("cannot create pipes: {}", ::strerror(errno));
    ::close(plan_fd);
    return std::nullopt;
  }
  // Move every source above the target numbers so the dup2s below cannot clobber one
  // another; the copies are close-on-exec.
  auto high = [](int fd) { return ::fcntl(fd, F_DUPFD_CLOEXEC, 10); };
  int src_plan = high(plan_fd), src_events = high(events->write),
      src_capture_read = high(output->read), src_capture_write = high(output->write);
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, devnull, 0);
  posix_spawn_file_actions_adddup2(&actions, src_capture_write, 1);
  posix_spawn_file_actions_adddup2(&actions, src_capture_write, 2);
  posix_spawn_file_actions_adddup2(&actions, src_plan, kPlanFd);
  posix_spawn_file_actions_adddup2(&actions, src_events, kEventFd);
  posix_spawn_file_actions_adddup2(&actions, src_capture_read, kCaptureFd);
  posix_spawn_file_actions_addclosefrom_np(&actions, kCaptureFd + 1);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults, empty;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGCHLD, SIGHUP, kKillWorkerSignal}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  // Its own process group, out of the terminal's: Ctrl-C reaches this process only.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);

  std::string exe = SelfExe();
  // This process's pid, for the worker to tell its parent from an adoptive one (it may be
  // PID 1 in a container: see worker/guardian.cc).
  std::string supervisor = std::to_string(::getpid());
  char* argv[] = {exe.data(), const_cast<char*>(kWorkerArg), supervisor.data(), nullptr};
  pid_t pid = -1;
  // The binary by its path (so tools like valgrind --trace-children follow it), unless the
  // file was replaced since we started: /proc/self/exe is still this very binary.
  const char* path = exe.ends_with(" (deleted)") ? "/proc/self/exe" : exe.c_str();
  int rc = posix_spawn(&pid, path, &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  for (int fd : {plan_fd, src_plan, src_events, src_capture_read, src_capture_write, devnull,
                 events->write, output->write}) {
    ::close(fd);
  }
  if (rc != 0) {
    *error = fmt::format("cannot start worker {}: {}", exe, ::strerror(rc));
    ::close(events->read);
    ::close(output->read);
    return std::nullopt;
  }
  ::fcntl(events->read, F_SETFL, O_NONBLOCK);
  ::fcntl(output->read, F_SETFL, O_NONBLOCK);
  TrackWorker(pid);
  return Worker{pid, events->read, output->read};
}

// Reads what a dead worker's output pipe still holds (its last words) as lines.
std::vector<std::string> ReadLeftoverOutput(int fd) {
  std::string data;
  char buf[1 << 16];
  while (data.size() < (1 << 20)) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < data.size()) {
    std::size_t nl = data.find('\n', start);
    if (nl == std::string::npos) nl = data.size();
    lines.push_back(data.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

// Why a worker was stopped by the supervisor, if it was.
enum class StopReason { kNone, kTimeout, kCancelled, kProtocol };

struct WorkerOutcome {
  int wait_status = 0;
  std::size_t events = 0;  // events received: none means the worker never started
  StopReason stopped = StopReason::kNone;
  std::int64_t timeout_ns = 0;  // of the test that timed out
  std::string timed_out_test;   // which one (empty: setup or teardown)
  std::string stacks;  // the worker's raw stacks (a crash, or a dump before a timeout's kill)
};

// How long a hung worker has to send its threads' stacks before it is killed anyway.
constexpr auto kStacksWithin = std::chrono::seconds(2);

// Forwards a worker's events until it exits, enforcing deadlines and cancellation.
WorkerOutcome Pump(Worker& w, SuiteTracker& tracker, const SuiteJob& job,
                   const std::atomic<bool>& cancel) {
  WorkerOutcome outcome;
  wire::FrameReader frames;
  std::vector<char> buf(1 << 18);
  bool eof = false;
  bool dirty = false;  // events forwarded since the sinks last flushed
  Clock::time_point last_flush = Clock::now();
  bool reaped = false;
  bool term_sent = false;
  Clock::time_point kill_at = Clock::time_point::max();
  // Waiting for a timed-out worker's stacks until then.
  Clock::time_point stacks_until = Clock::time_point::max();
  auto stop = [&](StopReason reason) {
    if (outcome.stopped == StopReason::kNone) outcome.stopped = reason;
    // The guardian kills the worker and every process below it, detached ones too.
    ::kill(w.pid, kKillWorkerSignal);
  };
  while (!eof) {
    Clock::time_point now = Clock::now();
    if (cancel.load() && !term_sent) {
      // Ask politely: the worker stops its running test through t.Context() (the
      // guardian passes SIGTERM on).
      ::kill(w.pid, SIGTERM);
      term_sent = true;
      kill_at = std::min(kill_at, now + job.grace);
    }
    if (now >= kill_at) stop(StopReason::kCancelled);
    // A release is passed on only to a worker that holds a test (through its guardian,
    // like SIGTERM); one asked for when nothing is held is dropped.
    if (job.release != nullptr && job.release->exchange(false) && tracker.held) {
      ::kill(w.pid, kReleaseHoldSignal);
    }
    std::string late_test;
    std::int64_t late_timeout_ns = 0;
    const Clock::time_point deadline = tracker.Deadline(&late_test, &late_timeout_ns);
    if (deadline != Clock::time_point::max() && now >= deadline + job.grace) {
      outcome.timeout_ns = late_timeout_ns;
      outcome.timed_out_test = late_test;
      tracker.ClearDeadlines();
      // Ask for every thread's stack (as go test dumps its goroutines), then kill. The test
      // has timed out now, whatever it does meanwhile.
      if (outcome.stopped == StopReason::kNone) outcome.stopped = StopReason::kTimeout;
      ::kill(w.pid, kDumpStacksSignal);
      stacks_until = now + kStacksWithin;
    }
    if (now >= stacks_until) {
      stacks_until = Clock::time_point::max();
      stop(StopReason::kTimeout);
    }
    const Clock::time_point next_deadline = tracker.Deadline();
    Clock::time_point wake = std::min({kill_at, stacks_until,
                                       next_deadline == Clock::time_point::max()
                                           ? Clock::time_point::max()
                                           : next_deadline + job.grace});
    int timeout_ms = 50;
    if (wake != Clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count() + 1;
      timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left, 0, 50));
    }
    pollfd p{w.events, POLLIN, 0};
    int ready = -1;
    if (dirty) {
      // More events usually follow at once; flush only when the stream pauses, or at
      // least every 100ms under a steady stream.
      ready = ::poll(&p, 1, std::min(timeout_ms, 2));
      if (ready == 0 || now - last_flush > std::chrono::milliseconds(100)) {
        tracker.Flush();
        dirty = false;
        last_flush = Clock::now();
      }
      if (ready == 0) continue;
    }
    // Unless the poll above found events already (one poll per wake-up, not two: a test
    // binary's 10,000 passing tests wake the supervisor 10,000 times).
    if (ready < 0) ready = ::poll(&p, 1, timeout_ms);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) {
      // A worker that exited while a stray child keeps the pipe open.
      int status;
      if (::waitpid(w.pid, &status, WNOHANG) == w.pid) {
        outcome.wait_status = status;
        reaped = true;
        break;
      }
      continue;
    }
    while (true) {
      ssize_t n = ::read(w.events, buf.data(), buf.size());
      if (n == 0) {
        eof = true;
        break;
      }
      if (n < 0) break;  // EAGAIN
      frames.Feed(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      while (auto payload = frames.Next()) {
        std::optional<Event> e = wire::DecodeEvent(*payload);
        if (!e) {
          stop(StopReason::kProtocol);
          break;
        }
        if (e->kind == EventKind::kStacks) {
          // For the failure of the crash or the timeout, never for a sink.
          outcome.stacks = std::move(e->text);
          if (stacks_until != Clock::time_point::max()) {
            stacks_until = Clock::time_point::max();
            stop(StopReason::kTimeout);
          }
          continue;
        }
        // Waiting for a timed-out worker's stacks: its output still counts, but not a result
        // (a test that ends now ended past its timeout and its grace).
        if (stacks_until != Clock::time_point::max() && e->kind != EventKind::kOutput &&
            e->kind != EventKind::kLog) {
          continue;
        }
        if (e->kind == EventKind::kAttachment) RejectInvalidAttachment(*e);
        e->suite = job.suite->name;
        tracker.OnEvent(*e);
        ++outcome.events;
        dirty = true;
      }
      if (frames.corrupt()) stop(StopReason::kProtocol);
      if (n < static_cast<ssize_t>(buf.size())) break;
    }
  }
  if (!reaped) {
    int status = 0;
    while (::waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
    }
    outcome.wait_status = status;
  }
  return outcome;
}

// Reports a test that no worker ran: started, skipped, cancelled or failed with `why` (and
// a failure's cause `key`), finished.
void ReportUnrun(SuiteTracker& tracker, const wire::PlannedTest& test, Status status,
                 const std::string& why, const char* key = "") {
  const EventKind reason = status == Status::kFailed ? EventKind::kFailure : EventKind::kSkip;
  for (EventKind kind : {EventKind::kTestStarted, reason, EventKind::kAttemptFinished,
                         EventKind::kTestFinished}) {
    Event e = tracker.Make(kind, test.name);
    e.attempt = test.first_attempt;
    e.status = status;
    if (kind == reason) {
      e.text = why;
      if (kind == EventKind::kFailure) e.key = key;
    }
    tracker.OnEvent(e);
  }
}

std::string Cause(const WorkerOutcome& o, const SuiteJob& job) {
  switch (o.stopped) {
    case StopReason::kTimeout:
      return fmt::format("timed out after {} (killed: still running {} after being asked to stop)",
                         FormatDuration(std::chrono::nanoseconds(o.timeout_ns)),
                         FormatDuration(job.grace));
    case StopReason::kCancelled:
      return "cancelled (killed: still running after being asked to stop)";
    case StopReason::kProtocol:
      return "worker sent a malformed event stream (killed)";
    case StopReason::kNone:
      break;
  }
  return "crashed: worker " + DescribeExit(o.wait_status);
}

// Returns the stacks the worker sent, symbolized, to follow Cause() after an empty line; empty
// when it sent none.
std::string Stacks(const WorkerOutcome& o) {
  if (o.stacks.empty() || o.stopped == StopReason::kCancelled) return {};
  if (std::optional<stack::RawStacks> raw = stack::ParseRawStacks(o.stacks)) {
    return "\n\n" + stack::FormatStacks(*raw);
  }
  return "\n\n(the worker sent stacks that could not be read)";
}

// Returns the Event::key of the failures Cause() explains: a worker that crashed (or broke
// its event stream) is a crash, one killed at a test's timeout a timeout; a cancel is
// neither.
const char* CauseKey(const WorkerOutcome& o) {
  switch (o.stopped) {
    case StopReason::kTimeout: return kCauseTimeout;
    case StopReason::kCancelled: return "";
    case StopReason::kProtocol:
    case StopReason::kNone: break;
  }
  return kCauseCrash;
}

Status RunIsolated(const SuiteJob& job, SuiteTracker& tracker, const std::atomic<bool>& cancel) {
  // The tests the next worker runs: the job's, then those a dead worker left (not copied
  // before then: a 10,000-test plan is copied in milliseconds the worker waits for).
  std::vector<wire::PlannedTest> left;
  const std::vector<wire::PlannedTest>* remaining = &job.plan.tests;
  bool teardown_only = false;
  bool teardown_only_done = false;
  while (!cancel.load() || teardown_only) {
    if (teardown_only) teardown_only_done = true;

    // A worker started after one that held a test holds no other: one hold a run.
    std::optional<wire::WorkerPlan> unheld;
    if (tracker.held_once && job.plan.hold_on_failure) {
      unheld.emplace(job.plan);
      unheld->tests.clear();  // the tests to run are *remaining
      unheld->hold_on_failure = false;
    }
    std::string error;
    std::optional<Worker> worker =
        Spawn(unheld ? *unheld : job.plan, *remaining, teardown_only, &error);
    if (!worker) {
      Event e = tracker.Make(EventKind::kFailure);
      e.text = error;
      tracker.OnEvent(e);
      tracker.setup_failed = true;
      break;
    }
    const std::size_t finished_before = tracker.finished.size();
    WorkerOutcome outcome = Pump(*worker, tracker, job, cancel);
    tracker.held = false;  // a worker that died holding holds nothing now
    const bool clean = outcome.stopped == StopReason::kNone &&
                       WIFEXITED(outcome.wait_status) && WEXITSTATUS(outcome.wait_status) == 0 &&
                       tracker.phase == SuiteTracker::Phase::kIdle;
    std::vector<std::string> leftovers;
    if (!clean) {
      // Stray children of a dead worker died with it: its guardian saw to it.
      leftovers = ReadLeftoverOutput(worker->capture);
    }
    UntrackWorker(worker->pid);
    ::close(worker->events);
    ::close(worker->capture);
    if (clean) {
      if (teardown_only) break;
      // A worker that stops early on purpose (fail-fast, cancel) leaves tests unrun.
      break;
    }

    const std::string cause = Cause(outcome, job);
    const std::string stacks = Stacks(outcome);
    const SuiteTracker::Phase phase = tracker.phase;
    // Output left in the pipe belongs to the test that ran, if only one did.
    std::string owner;
    int owner_attempt = 0;
    if (phase == SuiteTracker::Phase::kTest && tracker.running.size() == 1) {
      const auto& [name, r] = *tracker.running.begin();
      owner = r.open.empty() ? name : r.open.back();
      owner_attempt = r.attempt;
    }
    for (std::string& line : leftovers) {
      Event out = tracker.Make(EventKind::kOutput, owner);
      out.attempt = owner_attempt;
      out.text = std::move(line);
      tracker.OnEvent(out);
    }
    auto fail = [&](const std::string& test, int attempt, const std::string& text) {
      Event f = tracker.Make(EventKind::kFailure, test);
      f.attempt = attempt;
      f.text = text;
      f.key = CauseKey(outcome);
      tracker.OnEvent(f);
    };

    if (phase == SuiteTracker::Phase::kSetup || phase == SuiteTracker::Phase::kTeardown) {
      const bool setup = phase == SuiteTracker::Phase::kSetup;
      fail("", 0, (setup ? "setup " : "teardown ") + cause + stacks);
      Event done = tracker.Make(setup ? EventKind::kSetupFinished : EventKind::kTeardownFinished);
      done.status = Status::kFailed;
      tracker.OnEvent(done);
      if (setup) {
        // Every test left is skipped: a fresh worker would crash in setup again.
        for (const wire::PlannedTest& t : *remaining) {
          if (tracker.finished.count(t.name) != 0) continue;
          ReportUnrun(tracker, t, Status::kSkipped, "setup failed: setup " + cause);
        }
      }
      break;
    }

    std::map<std::string, int> retry_attempts;  // test -> the attempt a fresh worker runs
    // Killed after a cancel asked it to stop: the tests in flight are cancelled, not failed.
    const bool cancelled = outcome.stopped == StopReason::kCancelled;
    const Status ended = cancelled ? Status::kCancelled : Status::kFailed;
    if (phase == SuiteTracker::Phase::kTest) {
      // Every test in flight dies with the worker (several under --parallel).
      const std::map<std::string, SuiteTracker::Running, std::less<>> running = tracker.running;
      for (const auto& [test, r] : running) {
        const std::int64_t elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         Clock::now() - r.start)
                                         .count();
        if (r.attempt_done) {
          // Its attempt was over (held back for a retry): that attempt's outcome is its own.
          Event done = tracker.Make(EventKind::kTestFinished, test);
          done.attempt = r.attempt;
          done.status = r.attempt_status;
          done.elapsed_ns = elapsed;
          tracker.OnEvent(done);
          continue;
        }
        std::string why = cause + stacks;
        if (outcome.stopped == StopReason::kTimeout && !outcome.timed_out_test.empty() &&
            outcome.timed_out_test != test) {
          why = fmt::format("killed: {} timed out in the same worker (features run with --parallel share one)",
                            outcome.timed_out_test);
        }
        if (cancelled) {
          Event reason = tracker.Make(EventKind::kSkip, r.open.empty() ? test : r.open.back());
          reason.attempt = r.attempt;
          reason.text = why;
          tracker.OnEvent(reason);
        } else {
          fail(r.open.empty() ? test : r.open.back(), r.attempt, why);
        }
        // Close the open subtests, innermost first.
        for (auto sub = r.open.rbegin(); sub != r.open.rend(); ++sub) {
          Event done = tracker.Make(EventKind::kTestFinished, *sub);
          done.attempt = r.attempt;
          done.status = ended;
          done.elapsed_ns = elapsed;
          tracker.OnEvent(done);
        }
        Event attempt_done = tracker.Make(EventKind::kAttemptFinished, test);
        attempt_done.attempt = r.attempt;
        attempt_done.status = ended;
        attempt_done.elapsed_ns = elapsed;
        tracker.OnEvent(attempt_done);
        if (r.attempt < job.plan.max_attempts && outcome.stopped != StopReason::kCancelled &&
            !cancel.load() && !job.plan.external) {
          retry_attempts[test] = r.attempt + 1;
          tracker.running.erase(test);
        } else {
          Event done = tracker.Make(EventKind::kTestFinished, test);
          done.attempt = r.attempt;
          done.status = ended;
          done.elapsed_ns = elapsed;
          tracker.OnEvent(done);
        }
      }
      tracker.running.clear();
      tracker.phase = SuiteTracker::Phase::kIdle;
    } else if (job.plan.external) {
      // The worker of an external suite died outside a test: its command's run failed.
      if (!cancelled) fail("", 0, cause + stacks);
    } else if (tracker.finished.size() == finished_before && !remaining->empty()) {
      // Died between tests without progress. A worker that sent nothing at all cannot
      // start (a fresh one would fail the same way): every test left fails with the cause.
      // Otherwise blame the next test, so a restart makes progress.
      const std::size_t blamed = outcome.events == 0 ? remaining->size() : 1;
      for (std::size_t i = 0; i < blamed; ++i) {
        ReportUnrun(tracker, (*remaining)[i], Status::kFailed,
                    outcome.events == 0 ? "worker could not start: " + cause + stacks
                                        : cause + " before the test started" + stacks,
                    CauseKey(outcome));
      }
    }

    std::vector<wire::PlannedTest> next;
    for (const wire::PlannedTest& t : *remaining) {
      if (auto retry = retry_attempts.find(t.name); retry != retry_attempts.end()) {
        wire::PlannedTest again = t;
        again.first_attempt = retry->second;
        next.push_back(again);
      } else if (tracker.finished.count(t.name) == 0) {
        next.push_back(t);
      }
    }
    left = std::move(next);
    remaining = &left;
    if (job.plan.fail_fast && tracker.hard_failure) break;
    if (remaining->empty()) {
      // The crash took the teardown with it: run setup and teardown once more so what
      // setup created is cleaned up.
      if (job.suite->teardown && !teardown_only_done && !tracker.setup_failed) {
        teardown_only = true;
        continue;
      }
      break;
    }
  }
  return tracker.SuiteStatus();
}

Status RunInProcess(const SuiteJob& job, SuiteTracker& tracker, const std::atomic<bool>& cancel) {
  if (job.plan.external) {
    external::RunCommand(job.plan, tracker, cancel);
    return tracker.SuiteStatus();
  }
  SuiteRunner runner(*job.suite, job.plan, tracker, nullptr);
  std::string error = runner.Prepare();
  if (!error.empty()) {
    Event e = tracker.Make(EventKind::kFailure);
    e.text = error;
    tracker.OnEvent(e);
    tracker.setup_failed = true;
    return Status::kFailed;
  }
  // `cancel` is set from a signal handler, so it is polled; the end of the run is not.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread watcher([&] {
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return done; })) {
      if (job.release != nullptr && job.release->exchange(false)) runner.ReleaseHold();
      if (cancel.load()) {
        runner.Cancel();
        return;
      }
    }
  });
  runner.Run();
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  watcher.join();
  return tracker.SuiteStatus();
}

}  // namespace

void KillAllWorkers() {
  for (std::atomic<pid_t>& slot : g_workers) {
    pid_t pid = slot.load();
    if (pid > 0) ::kill(pid, kKillWorkerSignal);
  }
}

std::string DescribeExit(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    const char* abbrev = sigabbrev_np(sig);
    return fmt::format("killed by signal {} (SIG{}: {})", sig, abbrev ? abbrev : "?",
                       ::strsignal(sig));
  }
  if (WIFEXITED(wait_status)) {
    return fmt::format("exited with status {}", WEXITSTATUS(wait_status));
  }
  return fmt::format("ended with wait status {}", wait_status);
}

Status RunSuite(const SuiteJob& job, EventSink& sink, const std::atomic<bool>& cancel) {
  SuiteTracker tracker(job, sink);
  Event started = tracker.Make(EventKind::kSuiteStarted);
  started.text = job.suite->namespace_name;
  const auto start = Clock::now();
  tracker.OnEvent(started);
  Status status = job.isolated ? RunIsolated(job, tracker, cancel)
                               : RunInProcess(job, tracker, cancel);
  // Tests a cancel or --fail-fast kept from starting are reported cancelled, so that every
  // report counts them instead of showing fewer tests.
  const bool stopped_early = cancel.load() || (job.plan.fail_fast && tracker.hard_failure);
  if (stopped_early && !job.plan.run_teardown_only) {
    const std::string why = cancel.load()
                                ? "cancelled: the run was interrupted before the test started"
                                : "cancelled: the run stopped at the first failure (--fail-fast)";
    for (const wire::PlannedTest& t : job.plan.tests) {
      if (tracker.finished.count(t.name) == 0) ReportUnrun(tracker, t, Status::kCancelled, why);
    }
  }
  Event finished = tracker.Make(EventKind::kSuiteFinished);
  finished.status = status;
  finished.elapsed_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
  tracker.OnEvent(finished);
  return status;
}

}  // namespace handoff
