#include "dynlib/lazy_library.h"

#include <dlfcn.h>
#include <link.h>

#include <cstdio>
#include <cstdlib>

namespace handoff::dynlib {

LazyLibrary::LazyLibrary(const char* soname, const char* package)
    : soname_(soname), package_(package) {}

std::string LazyLibrary::Load() {
  std::call_once(once_, [this] {
    // RTLD_LOCAL: the library's symbols serve its own callers and our forwarders' lookups;
    // they never take the place of another library's.
    handle_ = ::dlopen(soname_, RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      const char* why = ::dlerror();
      error_ = std::string("cannot load ") + soname_ + " (Debian package " + package_ +
               "): " + (why != nullptr ? why : "unknown error");
    }
  });
  return error_;
}

std::string LazyLibrary::Path() {
  if (!Load().empty()) return {};
  const link_map* map = nullptr;
  if (::dlinfo(handle_, RTLD_DI_LINKMAP, &map) != 0 || map == nullptr || map->l_name == nullptr) {
    return {};
  }
  return map->l_name;
}

void* LazyLibrary::Symbol(const char* symbol) {
  std::string error = Load();
  void* address = nullptr;
  if (error.empty()) {
    ::dlerror();
    address = ::dlsym(handle_, symbol);
    if (address == nullptr) {
      const char* why = ::dlerror();
      error = std::string(soname_) + " has no " + symbol + " (" +
              (why != nullptr ? why : "unknown error") + "): install the " + package_ +
              " handoff was built against";
    }
  }
  if (!error.empty()) {
    std::fprintf(stderr, "handoff: %s\n", error.c_str());
    std::abort();
  }
  return address;
}

// Never destroyed: a forwarder may make its first call from a static destructor or an
// atexit handler (a cached Dwfl, OpenSSL's own clean-up), after these would have been.
LazyLibrary& Libpq() {
  static LazyLibrary& library = *new LazyLibrary("libpq.so.5", "libpq5");
  return library;
}

LazyLibrary& Libdw() {
  static LazyLibrary& library = *new LazyLibrary("libdw.so.1", "libdw1");
  return library;
}

LazyLibrary& Libssl() {
  static LazyLibrary& library = *new LazyLibrary("libssl.so.3", "libssl3");
  return library;
}

LazyLibrary& Libcrypto() {
  static LazyLibrary& library = *new LazyLibrary("libcrypto.so.3", "libssl3");
  return library;
}

std::string LoadOpenSsl() {
  if (std::string error = Libcrypto().Load(); !error.empty()) return error;
  return Libssl().Load();
}

std::vector<LazyLibrary*> LazyLibraries() {
  return {&Libpq(), &Libdw(), &Libssl(), &Libcrypto()};
}

}  // namespace handoff::dynlib
