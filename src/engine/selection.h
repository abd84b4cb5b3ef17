#pragma once

// Which suites and tests a command selects: --suite, --run, --skip, --labels,
// --skip-labels and sharding (--shard or GoogleTest's GTEST_SHARD_INDEX/TOTAL_SHARDS).

#include <map>
#include <set>
#include <string>
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
};

// A suite and its selected top-level tests, in declaration order.
struct SelectedSuite {
  const Suite* suite = nullptr;
  std::vector<const Test*> tests;
};

// Selects suites and tests. Suites with no selected test are left out. Returns false
// and sets *error (naming the flag) if a pattern does not compile.
bool Select(const Catalog& catalog, const SelectionOptions& options,
            std::vector<SelectedSuite>* out, std::string* error);

}  // namespace handoff
