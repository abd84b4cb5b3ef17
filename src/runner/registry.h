#pragma once

// The suites a binary knows: those registered by static initialisers (HANDOFF_TEST,
// HANDOFF_SUITE, handoff::Register) plus those handed to handoff::Main.

#include <string>
#include <vector>

#include "handoff/suite.h"

namespace handoff {

// Validated suites, or the list of everything wrong with the registrations.
struct Catalog {
  std::vector<Suite> suites;
  std::vector<std::string> errors;  // "file:line: message", one per problem

  // Returns the suite named `name`, or nullptr.
  const Suite* Find(const std::string& name) const;
};

// Builds the catalog from the static registrations followed by `extra`, reporting every
// invalid registration (empty suite name, duplicate suite or test names, a suite without
// tests, a test without a function, '/' in a test name, max attempts below 1).
// With `take_registrations` (handoff::Main, once per process) the registrations are
// moved into the catalog rather than copied, and a later call sees none of them.
Catalog BuildCatalog(std::vector<Suite> extra, bool take_registrations = false);

}  // namespace handoff
