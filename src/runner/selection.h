#pragma once

// Which suites and tests a command selects: --suite, --run, --skip, --labels,
// --skip-labels, the features' --feature and --skip-features, and sharding (--shard or
// GoogleTest's GTEST_SHARD_INDEX/TOTAL_SHARDS).

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "googletest/gtest_filter.h"
#include "runner/name_filter.h"
#include "runner/registry.h"

namespace re2 {
class RE2;
}

namespace handoff {

// Label constraints: every key must match one of its values.
using LabelSet = std::map<std::string, std::set<std::string>>;

// Parses "k=v,k2=v2" (a key given twice accepts either value). Returns false and sets
// *error on malformed input.
bool ParseLabels(const std::string& text, LabelSet* out, std::string* error);

struct SelectionOptions {
  std::string suite_pattern;  // RE2, matched against the suite name and "namespace/name"
  std::string run_pattern;    // go test -run
  std::string skip_pattern;   // go test -skip
  LabelSet labels;            // suites must carry every key with one of its values
  LabelSet skip_labels;       // suites carrying any of these pairs are left out
  int shard_index = 0;
  int shard_total = 1;
  // RE2 patterns for features only (tests with Test::feature); other tests ignore them.
  std::string feature_pattern;       // --feature: features whose name matches
  std::string skip_feature_pattern;  // --skip-features
  std::string assess_pattern;        // --assess: a feature's listed subtests that match
  std::string skip_assess_pattern;   // --skip-assessment
  // GoogleTest's --gtest_filter and its disabled tests (null when no --gtest_ flag is used):
  // tests and listed subtests are selected as googletest/gtest_filter.h says.
  std::shared_ptr<const GTestFilter> gtest_filter;
};

// Returns a test's labels: its suite's, with the test's own over them.
std::map<std::string, std::string> EffectiveLabels(const Suite& suite, const Test& test);

// True if `labels` has every key of `want` with one of its values.
bool MatchesLabels(const std::map<std::string, std::string>& labels, const LabelSet& want);
// True if `labels` has any of the pairs in `any`.
bool MatchesAnyLabel(const std::map<std::string, std::string>& labels, const LabelSet& any);

// A suite and its selected top-level tests, in declaration order.
struct SelectedSuite {
  const Suite* suite = nullptr;
  std::vector<const Test*> tests;
};

// Selects suites and tests. Suites with no selected test are left out; an external suite
// (Suite::external) is selected whole, with no tests of its own. Returns false
// and sets *error (naming the flag) if a pattern does not compile.
bool Select(const Catalog& catalog, const SelectionOptions& options,
            std::vector<SelectedSuite>* out, std::string* error);

// Which assessments of a feature run: --assess and --skip-assessment, compiled once.
// Used by `run` and `list` in the parent and by features in the worker.
class AssessmentFilter {
 public:
  // Compiles the patterns (either may be empty). If one does not compile, error() names
  // its flag and the filter selects every assessment.
  AssessmentFilter(std::string_view assess, std::string_view skip_assess);
  ~AssessmentFilter();
  AssessmentFilter(AssessmentFilter&&) noexcept;

  const std::string& error() const { return error_; }
  bool empty() const { return !assess_ && !skip_; }

  // True if the assessment reported as `name` ("creates_pods") runs. Reports show
  // "creates pods" as "creates_pods" (go test's rewrite); a pattern may be written
  // against either.
  bool Selects(std::string_view name) const;

 private:
  std::unique_ptr<re2::RE2> assess_;
  std::unique_ptr<re2::RE2> skip_;
  std::string error_;
};

// The listed subtests of tests (Test::subtests) that would run under a selection:
// --run and --skip at the second level, and for a feature --assess and
// --skip-assessment. Compiled once, for all the tests of a listing or a dry run;
// patterns are assumed valid (Select checked them).
class SubtestSelector {
 public:
  explicit SubtestSelector(const SelectionOptions& options);
  // Returns the listed subtests of `test` (of the suite `suite`) that would run.
  std::vector<std::string> Of(const Test& test, std::string_view suite = {}) const;

 private:
  std::shared_ptr<const NameFilter> run_;
  std::shared_ptr<const NameFilter> skip_;
  std::shared_ptr<const GTestFilter> gtest_;
  AssessmentFilter assessments_;
};

}  // namespace handoff
