#pragma once

// Unwrapping a Result (base/result.h) in a test.

#include <gtest/gtest.h>

#include <utility>

#include "base/result.h"

namespace handoff::testing {

// Returns the value of `result`; if it holds an error, fails the current test with the
// error's code and message and returns a value-initialised T (a null pointer, an empty run).
template <typename T>
T ValueOf(Result<T> result) {
  if (!result.ok()) {
    ADD_FAILURE() << "unexpected error (" << ErrorCodeName(result.error().code)
                  << "): " << result.error().message;
    return T{};
  }
  return std::move(result).value();
}

}  // namespace handoff::testing
