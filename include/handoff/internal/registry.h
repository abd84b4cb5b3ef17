#pragma once

// Plumbing for the HANDOFF_TEST and HANDOFF_SUITE macros. Not for direct use.

#include <functional>
#include <source_location>
#include <string>

#include "handoff/suite.h"

namespace handoff::internal {

// Adds a test to the macro-registered suite `suite` (created on first use). Returns true.
bool RegisterMacroTest(const char* suite, const char* test, TestFunc fn,
                       std::source_location where);

// Adds a function that configures the macro-registered suite `suite`. Returns true.
bool RegisterSuiteOptions(const char* suite, std::function<void(Suite&)> configure,
                          std::source_location where);

}  // namespace handoff::internal
