#pragma once

// Which suites and tests a command selects: --suite, --run, --skip, --labels,
// --skip-labels, the features' --feature and --skip-features, and sharding (--shard or
// GoogleTest's GTEST_SHARD_INDEX/TOTAL_SHARDS).

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "runner/registry.h"

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

// Selects suites and tests. Suites with no selected test are left out. Returns false
// and sets *error (naming the flag) if a pattern does not compile.
bool Select(const Catalog& catalog, const SelectionOptions& options,
            std::vector<SelectedSuite>* out, std::string* error);

// Returns the listed subtests of `test` (Test::subtests) that would run under
// `options`: --run and --skip at the second level, and for a feature --assess and
// --skip-assessment. Patterns are assumed valid (Select checked them).
std::vector<std::string> SelectedSubtests(const Test& test, const SelectionOptions& options);

// Returns true if an assessment named `name` runs under the --assess and
// --skip-assessment patterns (either may be empty). Used by `run` and the worker.
bool AssessmentSelected(std::string_view name, std::string_view assess,
                        std::string_view skip_assess);

}  // namespace handoff
