#pragma once

#include <functional>
#include <initializer_list>
#include <vector>

#include "handoff/suite.h"

namespace handoff {

struct MainConfig;

// An option of handoff::Main: adds suites (and, in later versions, hooks and schedules).
using Option = std::function<void(MainConfig&)>;

// What the options of handoff::Main configure.
struct MainConfig {
  std::vector<Suite> suites;
};

// Returns an option that adds suites to the ones registered statically.
Option WithSuites(std::vector<Suite> suites);

// Runs the command line of a handoff binary (run, list, ...) and returns its exit code:
// 0 passed, 1 a test failed, 2 bad usage or configuration.
int Main(int argc, char** argv, std::vector<Option> options = {});

template <typename... Opts>
int Main(int argc, char** argv, Option first, Opts... rest) {
  return Main(argc, argv, std::vector<Option>{std::move(first), std::move(rest)...});
}

}  // namespace handoff
