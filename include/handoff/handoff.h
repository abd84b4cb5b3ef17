#pragma once

// The one header a test author includes.

#include "handoff/context.h"
#include "handoff/external.h"
#include "handoff/features.h"
#include "handoff/fixture.h"
#include "handoff/internal/registry.h"
#include "handoff/main.h"
#include "handoff/params.h"
#include "handoff/suite.h"
#include "handoff/t.h"

// Defines and registers a test `Name` in suite `SuiteName`, with `t` (a handoff::T&) in
// scope, like GoogleTest's TEST:
//   HANDOFF_TEST(Checkout, PaysWithCard) { t.Log("..."); }
#define HANDOFF_TEST(SuiteName, Name)                                                 \
  static void HandoffTest_##SuiteName##_##Name(::handoff::T& t);                      \
  [[maybe_unused]] static const bool kHandoffTestRegistered_##SuiteName##_##Name =    \
      ::handoff::internal::RegisterMacroTest(#SuiteName, #Name,                       \
                                             &HandoffTest_##SuiteName##_##Name,       \
                                             ::std::source_location::current());      \
  static void HandoffTest_##SuiteName##_##Name([[maybe_unused]] ::handoff::T& t)

// Sets the options of the macro-registered suite `SuiteName`, with `suite` (a
// handoff::Suite&) in scope:
//   HANDOFF_SUITE(Checkout) { suite.max_attempts = 3; suite.labels = {{"team", "shop"}}; }
#define HANDOFF_SUITE(SuiteName)                                                      \
  static void HandoffSuite_##SuiteName(::handoff::Suite& suite);                      \
  [[maybe_unused]] static const bool kHandoffSuiteRegistered_##SuiteName =            \
      ::handoff::internal::RegisterSuiteOptions(#SuiteName, &HandoffSuite_##SuiteName,\
                                                ::std::source_location::current());   \
  static void HandoffSuite_##SuiteName([[maybe_unused]] ::handoff::Suite& suite)
