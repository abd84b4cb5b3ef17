#include "blackbox/go_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

#include "blackbox/process.h"

namespace handoff::testing {

std::string GoTest::Final() const {
  for (auto it = actions.rbegin(); it != actions.rend(); ++it) {
    if (*it == "pass" || *it == "fail" || *it == "skip") return *it;
  }
  return "";
}

const GoTest* GoReport::Find(const std::string& package, const std::string& test) const {
  auto it = tests.find({package, test});
  return it == tests.end() ? nullptr : &it->second;
}

std::string GoReport::FinalOf(const std::string& package, const std::string& test) const {
  const GoTest* t = Find(package, test);
  return t == nullptr ? "absent" : t->Final();
}

GoReport ExpectGoReport(const ProcessResult& r, int want_exit) {
  EXPECT_EQ(r.exit_code, want_exit) << r.err << r.out;
  GoReport report = ParseGoJson(r.out);
  EXPECT_TRUE(report.valid) << report.error;
  return report;
}

int GoReport::Count(const std::string& action) const {
  int n = 0;
  for (const auto& [key, t] : tests) {
    if (!key.second.empty() && t.Final() == action) ++n;
  }
  return n;
}

GoReport ParseGoJson(const std::string& stream) {
  GoReport report;
  std::istringstream in(stream);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    if (ec || !v.is_object() || !v.as_object().contains("Action") ||
        !v.as_object().contains("Time")) {
      report.valid = false;
      report.error = "line " + std::to_string(number) + " is not a test2json event: " + line;
      return report;
    }
    const auto& o = v.as_object();
    std::string package = o.contains("Package") ? std::string(o.at("Package").as_string()) : "";
    std::string test = o.contains("Test") ? std::string(o.at("Test").as_string()) : "";
    std::string action(o.at("Action").as_string());
    GoTest& t = report.tests[{package, test}];
    if (action == "output") {
      t.output += std::string(o.at("Output").as_string());
    } else {
      t.actions.push_back(action);
      if (o.contains("Elapsed")) t.elapsed = o.at("Elapsed").to_number<double>();
    }
  }
  return report;
}

}  // namespace handoff::testing
