#include "runner/registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <iterator>
#include <map>
#include <set>
#include <string_view>
#include <unordered_set>

#include "handoff/external.h"
#include "handoff/internal/registry.h"

namespace handoff {
namespace {

std::string Where(const std::source_location& loc) {
  return fmt::format("{}:{}", loc.file_name(), loc.line());
}

// Static registrations, in the order they ran. A function-local static avoids the
// static initialisation order problem.
struct StaticRegistry {
  struct Entry {
    Suite suite;
    std::string where;
    bool from_macros = false;
    std::vector<std::function<void(Suite&)>> configure;
    // HANDOFF_TEST tests, in definition order. A deque grows without moving what it
    // holds: a binary with 10,000 tests registers them without copying each log(n) times.
    std::deque<Test> macro_tests;
  };
  std::vector<Entry> entries;
  std::map<std::string, std::size_t> macro_suites;  // name -> entry index

  Entry& MacroSuite(const char* name, const std::source_location& where) {
    auto [it, inserted] = macro_suites.try_emplace(name, entries.size());
    if (inserted) {
      Entry& e = entries.emplace_back();
      e.suite.name = name;
      e.where = Where(where);
      e.from_macros = true;
    }
    return entries[it->second];
  }
};

StaticRegistry& Registry() {
  static StaticRegistry registry;
  return registry;
}

}  // namespace

bool Register(Suite suite, std::source_location where) {
  StaticRegistry::Entry& e = Registry().entries.emplace_back();
  e.suite = std::move(suite);
  e.where = Where(where);
  return true;
}

Suite MakeSuite(ExternalSuite external) {
  Suite suite;
  suite.name = std::move(external.name);
  suite.namespace_name = std::move(external.namespace_name);
  suite.description = std::move(external.description);
  suite.labels = std::move(external.labels);
  suite.max_attempts = external.max_attempts;
  suite.timeout = external.timeout;
  suite.concurrency = external.concurrency;
  suite.secret_params = std::move(external.secret_params);
  auto command = std::make_shared<ExternalCommand>();
  command->command = std::move(external.command);
  command->working_dir = std::move(external.working_dir);
  command->env = std::move(external.env);
  command->format = external.format;
  command->report_file = std::move(external.report_file);
  command->tool = external.tool;
  command->list_command = std::move(external.list_command);
  suite.external = std::move(command);
  return suite;
}

bool Register(ExternalSuite suite, std::source_location where) {
  return Register(MakeSuite(std::move(suite)), where);
}

namespace internal {

bool RegisterMacroTest(const char* suite, const char* test, TestFunc fn,
                       std::source_location where) {
  Test& t = Registry().MacroSuite(suite, where).macro_tests.emplace_back();
  t.name = test;
  t.fn = std::move(fn);
  return true;
}

bool RegisterSuiteOptions(const char* suite, std::function<void(Suite&)> configure,
                          std::source_location where) {
  Registry().MacroSuite(suite, where).configure.push_back(std::move(configure));
  return true;
}

}  // namespace internal

const Suite* Catalog::Find(const std::string& name) const {
  for (const Suite& s : suites) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

Catalog BuildCatalog(std::vector<Suite> extra, bool take_registrations) {
  std::vector<std::pair<Suite, std::string>> all;
  for (StaticRegistry::Entry& e : Registry().entries) {
    Suite suite = take_registrations ? std::move(e.suite) : e.suite;
    if (!e.macro_tests.empty()) {
      suite.tests.reserve(e.macro_tests.size());
      if (take_registrations) {
        suite.tests.insert(suite.tests.end(), std::make_move_iterator(e.macro_tests.begin()),
                           std::make_move_iterator(e.macro_tests.end()));
        e.macro_tests.clear();
      } else {
        suite.tests.insert(suite.tests.end(), e.macro_tests.begin(), e.macro_tests.end());
      }
    }
    for (const auto& configure : e.configure) {
      std::string name = suite.name;
      std::vector<Test> tests = suite.tests;
      configure(suite);
      // The macro owns the name and the tests; options may not replace them.
      suite.name = std::move(name);
      if (suite.tests.empty()) suite.tests = std::move(tests);
    }
    all.emplace_back(std::move(suite), e.where);
  }
  for (Suite& s : extra) all.emplace_back(std::move(s), "handoff::Main option");

  Catalog catalog;
  std::set<std::string> seen_suites;
  for (auto& [suite, where] : all) {
    std::vector<std::string> problems;
    if (suite.name.empty()) problems.push_back("suite has an empty name");
    if (!suite.name.empty() && !seen_suites.insert(suite.name).second) {
      problems.push_back(fmt::format("duplicate suite name \"{}\"", suite.name));
    }
    if (suite.external) {
      const ExternalCommand& command = *suite.external;
      if (!suite.tests.empty() || suite.setup || suite.teardown) {
        problems.push_back(fmt::format(
            "external suite \"{}\" has tests, setup or teardown of its own: its command runs them",
            suite.name));
      }
      if (command.command.empty() || command.command[0].empty()) {
        problems.push_back(fmt::format("external suite \"{}\" has no command", suite.name));
      }
      if (command.format == ReportFormat::kJUnitXml && command.report_file.empty()) {
        problems.push_back(fmt::format(
            "external suite \"{}\" reports JUnit XML but names no report_file", suite.name));
      }
    } else if (suite.tests.empty()) {
      problems.push_back(fmt::format("suite \"{}\" has no tests", suite.name));
    }
    if (suite.max_attempts < 1) {
      problems.push_back(fmt::format("suite \"{}\": max_attempts must be at least 1, got {}",
                                     suite.name, suite.max_attempts));
    }
    if (std::any_of(suite.secret_params.begin(), suite.secret_params.end(),
                    [](const std::string& name) { return name.empty(); })) {
      problems.push_back(
          fmt::format("suite \"{}\": secret_params has an empty name", suite.name));
    }
    std::unordered_set<std::string_view> seen_tests;
    seen_tests.reserve(suite.tests.size());
    for (const Test& test : suite.tests) {
      if (test.name.empty()) {
        problems.push_back(fmt::format("suite \"{}\" has a test with an empty name", suite.name));
      } else if (test.name.find('/') != std::string::npos) {
        problems.push_back(fmt::format("suite \"{}\": test name \"{}\" contains '/'",
                                       suite.name, test.name));
      } else if (!seen_tests.insert(test.name).second) {
        problems.push_back(fmt::format("suite \"{}\": duplicate test name \"{}\"", suite.name,
                                       test.name));
      }
      if (!test.fn) {
        problems.push_back(fmt::format("suite \"{}\": test \"{}\" has no function", suite.name,
                                       test.name));
      }
    }
    for (std::string& p : problems) catalog.errors.push_back(fmt::format("{}: {}", where, p));
    if (problems.empty()) catalog.suites.push_back(std::move(suite));
  }
  return catalog;
}

}  // namespace handoff
