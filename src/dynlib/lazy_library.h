#pragma once

// Shared libraries that only some commands need, opened the first time one of their
// functions is called instead of when the binary starts.
//
// Every handoff binary carries the server, so it needed PostgreSQL's client (with Kerberos,
// LDAP and GnuTLS behind it), OpenSSL and elfutils' libdw. The dynamic loader mapped and
// relocated those 30 libraries in every process, twice per `run` (the supervisor, and the
// worker it starts from the same binary): 5 MB and about 30 ms per run of the 10,000-test
// bench, for a test binary that uses none of them. Now the binary names none of them; a
// forwarder of the same name (dynlib/forward.h) stands for each function handoff calls and
// opens its library on the first call. The libraries come from the same Debian packages.
//
// A leaf: it includes only the standard library and <dlfcn.h>.

#include <mutex>
#include <string>
#include <vector>

namespace handoff::dynlib {

class LazyLibrary {
 public:
  // `soname` is what dlopen opens (the name the library was built against), `package` the
  // Debian package that has it, for the message when it cannot be opened.
  LazyLibrary(const char* soname, const char* package);

  // Opens the library now if it is not open yet. Returns an empty string, or why it cannot
  // be opened, naming the package: for a caller that can fail cleanly (a store URL that
  // needs PostgreSQL) before any forwarder runs.
  std::string Load();

  // The address of `symbol` in the library. A forwarder cannot report an error, so a library
  // or symbol that is missing ends the process with a message naming the package; callers
  // that can fail call Load() first.
  void* Symbol(const char* symbol);

  // The file the library was opened from ("/lib/x86_64-linux-gnu/libpq.so.5"), opening it if
  // it is not open yet; empty when it cannot be (Load() says why). For an image of this
  // binary, which must hold what ldd does not list.
  std::string Path();

  const char* soname() const { return soname_; }

 private:
  const char* soname_;
  const char* package_;
  std::once_flag once_;
  void* handle_ = nullptr;
  std::string error_;
};

// The libraries handoff opens this way.
LazyLibrary& Libpq();      // libpq.so.5: the PostgreSQL store
LazyLibrary& Libdw();      // libdw.so.1: symbolizing crash and hang stacks
LazyLibrary& Libssl();     // libssl.so.3: TLS (serve, remote, workloads' probes, notifications)
LazyLibrary& Libcrypto();  // libcrypto.so.3: hashes, signatures and random tokens

// Opens libssl and libcrypto now: empty, or why they cannot be opened. For a command that
// will need them (serve, remote over https) to fail at its start with a clear message
// instead of ending the process at its first TLS handshake or token hash.
std::string LoadOpenSsl();

// All of them.
std::vector<LazyLibrary*> LazyLibraries();

}  // namespace handoff::dynlib
