#include "engine/selection.h"

#include <re2/re2.h>

#include "runner/name_filter.h"

namespace handoff {

bool ParseLabels(const std::string& text, LabelSet* out, std::string* error) {
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string pair = text.substr(start, comma - start);
    start = comma + 1;
    if (pair.empty()) {
      if (text.empty()) break;
      *error = "empty label in \"" + text + "\" (want k=v,k2=v2)";
      return false;
    }
    std::size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      *error = "label \"" + pair + "\" is not of the form key=value";
      return false;
    }
    (*out)[pair.substr(0, eq)].insert(pair.substr(eq + 1));
  }
  return true;
}

namespace {

bool HasLabels(const Suite& suite, const LabelSet& want) {
  for (const auto& [key, values] : want) {
    auto it = suite.labels.find(key);
    if (it == suite.labels.end() || values.count(it->second) == 0) return false;
  }
  return true;
}

bool HasAnyLabel(const Suite& suite, const LabelSet& any) {
  for (const auto& [key, values] : any) {
    auto it = suite.labels.find(key);
    if (it != suite.labels.end() && values.count(it->second) != 0) return true;
  }
  return false;
}

}  // namespace

bool Select(const Catalog& catalog, const SelectionOptions& options,
            std::vector<SelectedSuite>* out, std::string* error) {
  std::unique_ptr<re2::RE2> suite_re;
  if (!options.suite_pattern.empty()) {
    RE2::Options re_options;
    re_options.set_log_errors(false);
    suite_re = std::make_unique<re2::RE2>(options.suite_pattern, re_options);
    if (!suite_re->ok()) {
      *error = "--suite: invalid regular expression \"" + options.suite_pattern +
               "\": " + suite_re->error();
      return false;
    }
  }
  std::string filter_error;
  auto run = NameFilter::Compile(options.run_pattern, &filter_error);
  if (!run) {
    *error = "--run: " + filter_error;
    return false;
  }
  auto skip = NameFilter::Compile(options.skip_pattern, &filter_error);
  if (!skip) {
    *error = "--skip: " + filter_error;
    return false;
  }
  int index = 0;  // position among all selected tests, for sharding
  for (const Suite& suite : catalog.suites) {
    if (suite_re && !RE2::PartialMatch(suite.name, *suite_re) &&
        !RE2::PartialMatch(suite.namespace_name + "/" + suite.name, *suite_re)) {
      continue;
    }
    if (!HasLabels(suite, options.labels) || HasAnyLabel(suite, options.skip_labels)) continue;
    SelectedSuite selected{&suite, {}};
    for (const Test& test : suite.tests) {
      if (!run->Selects(test.name) || skip->Skips(test.name)) continue;
      if (index++ % options.shard_total != options.shard_index) continue;
      selected.tests.push_back(&test);
    }
    if (!selected.tests.empty()) out->push_back(std::move(selected));
  }
  return true;
}

}  // namespace handoff
