#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>

#include "handoff/serve.h"
#include "handoff/suite.h"

namespace handoff {

// What the options of handoff::Main (handoff::Option, declared in handoff/serve.h)
// configure.
struct MainConfig {
  std::vector<Suite> suites;
  std::vector<Schedule> schedules;
  std::vector<std::shared_ptr<Hook>> hooks;
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
