#include "stack/stack_capture.h"

#include <execinfo.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstring>

namespace handoff::stack {
namespace {

// Reads a whole small file into `buf`; returns the bytes read (0 on any error).
std::size_t ReadSmallFile(const char* path, char* buf, std::size_t cap) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  std::size_t len = 0;
  while (len < cap) {
    const ssize_t n = ::read(fd, buf + len, cap - len);
    if (n <= 0) break;
    len += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return len;
}

std::uintptr_t InterruptedPc(const void* ucontext) {
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
#if defined(__x86_64__)
  return static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  return static_cast<std::uintptr_t>(uc->uc_mcontext.pc);
#else
  (void)uc;
  return 0;
#endif
}

}  // namespace

void SignalSafeWriter::Str(std::string_view s) {
  std::size_t n = s.size();
  if (n > cap_ - len_) {
    n = cap_ - len_;
    overflowed_ = true;
  }
  std::memcpy(buf_ + len_, s.data(), n);
  len_ += n;
}

void SignalSafeWriter::Dec(std::int64_t v) {
  char digits[24];
  int i = sizeof digits;
  const bool negative = v < 0;
  std::uint64_t u = negative ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
  do {
    digits[--i] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (negative) digits[--i] = '-';
  Str(std::string_view(digits + i, sizeof digits - i));
}

void SignalSafeWriter::Hex(std::uint64_t v) {
  char digits[16];
  int i = sizeof digits;
  do {
    digits[--i] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v != 0);
  Str(std::string_view(digits + i, sizeof digits - i));
}

namespace {

// A pipe that tells readable addresses from others: write() of one byte from an address
// fails with EFAULT instead of faulting. Both ends stay in this process.
int g_probe[2] = {-1, -1};

bool Readable(std::uintptr_t address, std::size_t size) {
  if (g_probe[1] < 0 || address == 0) return false;
  const ssize_t n = ::write(g_probe[1], reinterpret_cast<const void*>(address), size);
  if (n <= 0) return false;
  char drain[16];
  (void)!::read(g_probe[0], drain, sizeof drain);
  return static_cast<std::size_t>(n) == size;
}

std::uintptr_t InterruptedSp(const void* ucontext) {
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
#if defined(__x86_64__)
  return static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
#else
  (void)uc;
  return 0;
#endif
}

}  // namespace

void PrepareStackCapture() {
  void* frames[4];
  (void)::backtrace(frames, 4);
  if (g_probe[0] < 0 && ::pipe2(g_probe, O_CLOEXEC | O_NONBLOCK) != 0) g_probe[0] = g_probe[1] = -1;
}

int CaptureStack(const void* ucontext, std::uintptr_t* frames, int max) {
  // Room for the handler's own frames, dropped below.
  constexpr int kExtra = 16;
  void* raw[128 + kExtra];
  const int cap = max + kExtra < 128 + kExtra ? max + kExtra : 128 + kExtra;
  const int n = ::backtrace(raw, cap);
  int first = 0;
  if (ucontext != nullptr) {
    const std::uintptr_t pc = InterruptedPc(ucontext);
    // A call through a bad pointer: the unwinder would read the code at pc (and fault in
    // the handler) or stop at once. Report the address, and the caller from the return
    // address the call pushed.
    if (!Readable(pc, 1)) {
      int count = 0;
      if (max > 0) frames[count++] = pc;
      const std::uintptr_t sp = InterruptedSp(ucontext);
      std::uintptr_t ret = 0;
      if (max > 1 && Readable(sp, sizeof ret)) {
        std::memcpy(&ret, reinterpret_cast<const void*>(sp), sizeof ret);
        frames[count++] = ret;
      }
      return count;
    }
    for (int i = 0; i < n; ++i) {
      if (reinterpret_cast<std::uintptr_t>(raw[i]) == pc) {
        first = i;
        break;
      }
    }
  }
  int count = 0;
  for (int i = first; i < n && count < max; ++i) {
    frames[count++] = reinterpret_cast<std::uintptr_t>(raw[i]);
  }
  return count;
}

pid_t ThreadId() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

void WriteThread(SignalSafeWriter& w, pid_t tid) {
  w.Str("thread ");
  w.Dec(tid);
  w.Char(' ');
  char path[64];
  SignalSafeWriter p(path, sizeof path - 1);
  p.Str("/proc/self/task/");
  p.Dec(tid);
  p.Str("/comm");
  path[p.view().size()] = '\0';
  char name[64];
  std::size_t len = ReadSmallFile(path, name, sizeof name);
  while (len > 0 && (name[len - 1] == '\n' || name[len - 1] == '\0')) --len;
  for (std::size_t i = 0; i < len; ++i) {
    if (name[i] == '\n') name[i] = ' ';
  }
  w.Str(std::string_view(name, len));
  w.Char('\n');
}

void WriteFrames(SignalSafeWriter& w, const std::uintptr_t* frames, int count) {
  w.Str("frames");
  for (int i = 0; i < count; ++i) {
    w.Char(' ');
    w.Hex(frames[i]);
  }
  w.Char('\n');
}

void WriteMappings(SignalSafeWriter& w) {
  const int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[4096];
  char line[1024];
  std::size_t line_len = 0;
  bool line_too_long = false;
  auto end_line = [&] {
    // A file-backed mapping: its sixth field is an absolute path.
    const std::string_view l(line, line_len);
    if (!line_too_long && l.find(" /") != std::string_view::npos) {
      w.Str("map ");
      w.Str(l);
      w.Char('\n');
    }
    line_len = 0;
    line_too_long = false;
  };
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') {
        end_line();
      } else if (line_len < sizeof line) {
        line[line_len++] = buf[i];
      } else {
        line_too_long = true;
      }
    }
  }
  if (line_len > 0) end_line();
  ::close(fd);
}

bool ForEachThread(void (*fn)(pid_t tid, void* arg), void* arg) {
  const int fd = ::open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  // struct linux_dirent64, read with the raw system call (readdir allocates).
  alignas(8) char buf[4096];
  for (;;) {
    const long n = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      unsigned short reclen;
      std::memcpy(&reclen, buf + off + 16, sizeof reclen);
      const char* name = buf + off + 19;
      if (name[0] >= '0' && name[0] <= '9') {
        pid_t tid = 0;
        for (const char* c = name; *c >= '0' && *c <= '9'; ++c) tid = tid * 10 + (*c - '0');
        fn(tid, arg);
      }
      off += reclen;
    }
  }
  ::close(fd);
  return true;
}

}  // namespace handoff::stack
