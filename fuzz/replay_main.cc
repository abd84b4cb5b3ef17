// handoff_fuzz_replay: runs every fuzz target (compiled without libFuzzer) over its seed
// corpus (fuzz/corpus/<target>/) and its kept regression inputs (fuzz/regressions/<target>/),
// so that the normal test run (ctest's fuzz_replay) fails again on any input that once
// crashed. A crash or a failed FUZZ_CHECK aborts; before each input its path is printed, so
// the last path shown is the input to blame.
//
//   handoff_fuzz_replay FUZZ_DIR [TARGET...]

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "fuzz/fuzz_target.h"

namespace handoff::fuzz {
namespace {

std::map<std::string, TargetFn, std::less<>>& Targets() {
  static auto* targets = new std::map<std::string, TargetFn, std::less<>>();
  return *targets;
}

// The files under `dir` (none if it does not exist), in a stable order.
std::vector<std::filesystem::path> FilesUnder(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  if (!std::filesystem::is_directory(dir)) return files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().filename() != "README.md") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

bool RegisterTarget(std::string_view name, TargetFn fn) {
  Targets().emplace(std::string(name), fn);
  return true;
}

}  // namespace handoff::fuzz

int main(int argc, char** argv) {
  using namespace handoff::fuzz;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FUZZ_DIR [TARGET...]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path root = argv[1];
  std::vector<std::string> names(argv + 2, argv + argc);
  if (names.empty()) {
    for (const auto& [name, fn] : Targets()) names.push_back(name);
  }
  int failures = 0;
  for (const std::string& name : names) {
    const auto target = Targets().find(name);
    if (target == Targets().end()) {
      std::fprintf(stderr, "no fuzz target %s\n", name.c_str());
      return 2;
    }
    const auto corpus = FilesUnder(root / "corpus" / name);
    const auto regressions = FilesUnder(root / "regressions" / name);
    // A target without seeds would replay nothing and pass: that is a mistake.
    if (corpus.empty()) {
      std::fprintf(stderr, "%s: no seed inputs in %s\n", name.c_str(),
                   (root / "corpus" / name).c_str());
      ++failures;
      continue;
    }
    for (const auto* files : {&corpus, &regressions}) {
      for (const std::filesystem::path& file : *files) {
        std::fprintf(stderr, "%s: %s\n", name.c_str(), file.c_str());
        std::ifstream in(file, std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
        target->second(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      }
    }
    std::printf("%s: %zu seed inputs, %zu regression inputs replayed\n", name.c_str(),
                corpus.size(), regressions.size());
  }
  return failures == 0 ? 0 : 1;
}
