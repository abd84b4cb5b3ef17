#include "stack/symbolizer.h"

#include <cxxabi.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <dwarf.h>
#include <signal.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>

#include "dynlib/lazy_library.h"

namespace handoff::stack {
namespace {

std::string Demangle(const char* name) {
  if (name == nullptr) return {};
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(
      abi::__cxa_demangle(name, nullptr, nullptr, &status), &std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(name);
}

std::string BaseName(const char* path) {
  if (path == nullptr) return {};
  const char* slash = std::strrchr(path, '/');
  return slash != nullptr ? slash + 1 : path;
}

// The name of a subprogram or inlined subroutine DIE: its linkage name demangled (qualified,
// with parameters), else its plain name.
std::string ScopeName(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  for (int name : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name}) {
    if (dwarf_attr_integrate(die, name, &attr) != nullptr) {
      if (const char* s = dwarf_formstring(&attr)) return Demangle(s);
    }
  }
  if (dwarf_attr_integrate(die, DW_AT_name, &attr) != nullptr) {
    if (const char* s = dwarf_formstring(&attr)) return s;
  }
  return {};
}

// The call site of an inlined subroutine DIE.
void CallSite(Dwarf_Die* cudie, Dwarf_Die* inlined, std::string* file, int* line) {
  Dwarf_Attribute attr;
  Dwarf_Word value = 0;
  file->clear();
  *line = 0;
  if (dwarf_attr(inlined, DW_AT_call_line, &attr) != nullptr && dwarf_formudata(&attr, &value) == 0) {
    *line = static_cast<int>(value);
  }
  Dwarf_Files* files = nullptr;
  std::size_t count = 0;
  if (dwarf_attr(inlined, DW_AT_call_file, &attr) != nullptr && dwarf_formudata(&attr, &value) == 0 &&
      dwarf_getsrcfiles(cudie, &files, &count) == 0 && value < count) {
    if (const char* name = dwarf_filesrc(files, value, nullptr, nullptr)) *file = name;
  }
}

// Appends the frames of one address: the inlined calls it is in, innermost first, then the
// function that holds them.
void SymbolizeAddress(Dwfl* dwfl, std::uint64_t address, bool exact, std::vector<Frame>& out) {
  // A return address points after its call: look up the call itself.
  const Dwarf_Addr pc = exact || address == 0 ? address : address - 1;
  Frame base;
  base.address = address;
  Dwfl_Module* mod = dwfl_addrmodule(dwfl, pc);
  if (mod == nullptr) {
    out.push_back(base);
    return;
  }
  const char* module_name = dwfl_module_info(mod, nullptr, nullptr, nullptr, nullptr, nullptr,
                                             nullptr, nullptr);
  base.module = BaseName(module_name);
  GElf_Off offset = 0;
  GElf_Sym sym;
  base.function = Demangle(dwfl_module_addrinfo(mod, pc, &offset, &sym, nullptr, nullptr, nullptr));
  std::string file;
  int line = 0;
  Dwarf_Addr bias = 0;
  // Found through .debug_aranges (clang writes them only with -gdwarf-aranges), which can
  // name a unit that does not hold pc (seen in clang's sanitizer builds: a unit of another
  // file claimed a test's function): the unit must hold pc itself, else each unit is asked.
  Dwarf_Die* cudie = dwfl_module_addrdie(mod, pc, &bias);
  if (cudie == nullptr || dwarf_haspc(cudie, pc - bias) != 1) {
    cudie = nullptr;
    Dwarf_Die* unit = nullptr;
    Dwarf_Addr unit_bias = 0;
    while ((unit = dwfl_module_nextcu(mod, unit, &unit_bias)) != nullptr) {
      if (dwarf_haspc(unit, pc - unit_bias) == 1) {
        cudie = unit;
        bias = unit_bias;
        break;
      }
    }
  }
  if (cudie != nullptr) {
    if (Dwarf_Line* l = dwarf_getsrc_die(cudie, pc - bias)) {
      if (const char* f = dwarf_linesrc(l, nullptr, nullptr)) file = f;
      dwarf_lineno(l, &line);
    }
  } else if (Dwfl_Line* l = dwfl_module_getsrc(mod, pc)) {
    if (const char* f = dwfl_lineinfo(l, nullptr, &line, nullptr, nullptr, nullptr)) file = f;
  }
  // The innermost scope at pc, then (as eu-addr2line -i) the concrete scopes that hold it:
  // dwarf_getscopes alone leaves a nested inline for its abstract definition's scopes.
  Dwarf_Die* scopes = nullptr;
  int n = cudie != nullptr ? dwarf_getscopes(cudie, pc - bias, &scopes) : 0;
  if (n > 0) {
    Dwarf_Die innermost = scopes[0];
    std::free(scopes);
    scopes = nullptr;
    n = dwarf_getscopes_die(&innermost, &scopes);
  }
  for (int i = 0; i < n; ++i) {
    Dwarf_Die* scope = &scopes[i];
    const int tag = dwarf_tag(scope);
    if (tag == DW_TAG_inlined_subroutine) {
      Frame f = base;
      f.function = ScopeName(scope);
      f.file = file;
      f.line = line;
      f.inlined = true;
      out.push_back(std::move(f));
      CallSite(cudie, scope, &file, &line);
    } else if (tag == DW_TAG_subprogram) {
      // The symbol table names the out-of-line function best (its full signature).
      if (base.function.empty()) base.function = ScopeName(scope);
      break;
    }
  }
  std::free(scopes);
  base.file = file;
  base.line = line;
  out.push_back(std::move(base));
}

std::string FormatFrame(int index, const Frame& f) {
  std::string text = fmt::format("  #{} ", index);
  if (f.function.empty()) {
    text += fmt::format("0x{:x}", f.address);
  } else {
    text += f.function;
  }
  if (f.inlined) text += " (inlined)";
  if (!f.file.empty()) {
    text += fmt::format(" at {}:{}", f.file, f.line);
  } else if (!f.module.empty()) {
    text += fmt::format(" in {}", f.module);
  }
  return text;
}

// The function that runs a test's body, setup, teardown or cleanup (src/runner/runner.cc).
constexpr std::string_view kRunnerEntry = "handoff::internal::RunGuarded(";

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

using DwflPtr = std::unique_ptr<Dwfl, decltype(&dwfl_end)>;

// Returns a Dwfl of the modules that the /proc/PID/maps text `maps` lists (none on error).
DwflPtr ReportMaps(const std::string& maps) {
  static const Dwfl_Callbacks callbacks = {
      .find_elf = dwfl_linux_proc_find_elf,
      // Local files only (the binary itself, /usr/lib/debug/.build-id): never a debuginfod
      // server over the network, whatever DEBUGINFOD_URLS says.
      .find_debuginfo = dwfl_build_id_find_debuginfo,
      .section_address = nullptr,
      .debuginfo_path = nullptr,
  };
  // Without a module reported, libdw's lookups are not to be used: no Dwfl then.
  DwflPtr none(nullptr, &dwfl_end);
  if (maps.empty()) return none;
  // Without libdw (Debian: libdw1) the frames are bare addresses (dynlib/lazy_library.h).
  if (!dynlib::Libdw().Load().empty()) return none;
  DwflPtr dwfl(dwfl_begin(&callbacks), &dwfl_end);
  if (dwfl == nullptr) return none;
  // The text may come from a worker: only regular files are opened (a FIFO it names would
  // block the open, a device would be read without end).
  std::string copy;
  std::size_t start = 0;
  while (start < maps.size()) {
    std::size_t nl = maps.find('\n', start);
    if (nl == std::string::npos) nl = maps.size();
    const std::string_view line(maps.data() + start, nl - start);
    start = nl + 1;
    const std::size_t slash = line.find(" /");
    if (slash == std::string_view::npos) continue;
    struct stat st {};
    if (::stat(std::string(line.substr(slash + 1)).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    copy.append(line);
    copy.push_back('\n');
  }
  if (copy.empty()) return none;
  FILE* f = ::fmemopen(copy.data(), copy.size(), "r");
  if (f == nullptr) return none;
  dwfl_report_begin(dwfl.get());
  const int reported = dwfl_linux_proc_maps_report(dwfl.get(), f);
  std::fclose(f);
  if (dwfl_report_end(dwfl.get(), nullptr, nullptr) != 0 || reported != 0) return none;
  return dwfl;
}

std::vector<Frame> SymbolizeThread(Dwfl* dwfl, const RawThread& thread) {
  std::vector<Frame> out;
  for (std::size_t i = 0; i < thread.frames.size(); ++i) {
    if (dwfl == nullptr) {
      Frame f;
      f.address = thread.frames[i];
      out.push_back(f);
    } else {
      SymbolizeAddress(dwfl, thread.frames[i], i == 0 && thread.first_exact, out);
    }
  }
  return out;
}

// Appends the lines of `frames`, without what handoff's runner adds below a test: the same
// for every test. (A subtest's frames are above its own RunGuarded, and its parent's body
// below it: cut at the last.)
void AppendFrames(const std::vector<Frame>& frames, std::string& text) {
  std::size_t end = frames.size();
  for (std::size_t k = 0; k < frames.size(); ++k) {
    if (frames[k].function.rfind(kRunnerEntry, 0) == 0) end = k;
  }
  for (std::size_t k = 0; k < end; ++k) {
    if (!text.empty() && text.back() != '\n') text += '\n';
    text += FormatFrame(static_cast<int>(k), frames[k]);
  }
}

}  // namespace

std::vector<std::vector<Frame>> Symbolize(const RawStacks& raw) {
  DwflPtr dwfl = ReportMaps(raw.maps);
  std::vector<std::vector<Frame>> out;
  for (const RawThread& thread : raw.threads) out.push_back(SymbolizeThread(dwfl.get(), thread));
  return out;
}

std::string FormatOwnFrames(const std::uintptr_t* frames, int count) {
  // libdw first: opening it maps files, which would make the maps read below stale at once.
  (void)dynlib::Libdw().Load();
  // The file-backed mappings only: the heap and thread stacks change all the time.
  std::ifstream in("/proc/self/maps");
  std::string maps;
  for (std::string line; std::getline(in, line);) {
    if (line.find(" /") != std::string::npos) maps += line + '\n';
  }
  // Reading a binary's symbols and lines takes a while; a process's mappings seldom change.
  static std::mutex mu;
  static std::string cached_maps;
  static DwflPtr cached(nullptr, &dwfl_end);
  std::lock_guard lock(mu);
  if (cached == nullptr || maps != cached_maps) {
    cached = ReportMaps(maps);
    cached_maps = std::move(maps);
  }
  RawThread thread;
  thread.frames.assign(frames, frames + count);
  thread.first_exact = false;
  std::string text;
  AppendFrames(SymbolizeThread(cached.get(), thread), text);
  return text;
}

std::string FormatStacks(const RawStacks& raw) {
  const std::vector<std::vector<Frame>> symbolized = Symbolize(raw);
  // The main thread first (a worker runs its tests there unless they run in parallel).
  std::vector<std::size_t> order;
  std::size_t own = 0;
  for (std::size_t i = 0; i < raw.threads.size(); ++i) {
    if (!raw.crash && raw.threads[i].name.rfind("handoff-", 0) == 0) {
      ++own;
      continue;
    }
    order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return raw.threads[a].tid < raw.threads[b].tid;
  });
  std::string text;
  if (!raw.crash) {
    text = fmt::format("stacks of the {} thread{} of the test's process just before it was killed",
                       order.size(), order.size() == 1 ? "" : "s");
    if (own > 0) text += fmt::format(" ({} of handoff's own not shown)", own);
    text += ":\n";
  }
  for (std::size_t i : order) {
    const RawThread& thread = raw.threads[i];
    if (!text.empty() && text.back() != '\n') text += '\n';
    if (!raw.crash) text += '\n';
    text += fmt::format("thread {} \"{}\"", thread.tid, thread.name);
    if (raw.crash && thread.tid == raw.crashed_tid) {
      text += fmt::format(" crashed with {}", SignalName(raw.signal));
    }
    if (!thread.answered) {
      text += ": did not answer (it blocks the signal that asks for its stack)";
      continue;
    }
    text += ':';
    AppendFrames(symbolized[i], text);
  }
  return text;
}

}  // namespace handoff::stack
