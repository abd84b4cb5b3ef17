#include "runner/selection.h"

#include <re2/re2.h>

#include <algorithm>
#include <tuple>

#include "handoff/external.h"
#include "runner/name_filter.h"

namespace handoff {

bool ParseLabels(const std::string& text, LabelSet* out, std::string* error) {
  // Spaces around pairs, keys and values are ignored, as e2e-framework's --labels
  // ignores them ("k0=v0, k0=v01").
  auto trim = [](std::string s) {
    const std::size_t first = s.find_first_not_of(" \t");
    if (first == std::string::npos) return std::string();
    const std::size_t last = s.find_last_not_of(" \t");
    return s.substr(first, last - first + 1);
  };
  if (trim(text).empty()) return true;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string pair = trim(text.substr(start, comma - start));
    start = comma + 1;
    if (pair.empty()) {
      *error = "empty label in \"" + text + "\" (want k=v,k2=v2)";
      return false;
    }
    std::size_t eq = pair.find('=');
    std::string key = eq == std::string::npos ? std::string() : trim(pair.substr(0, eq));
    if (eq == std::string::npos || key.empty()) {
      *error = "label \"" + pair + "\" is not of the form key=value";
      return false;
    }
    (*out)[key].insert(trim(pair.substr(eq + 1)));
  }
  return true;
}

std::map<std::string, std::string> EffectiveLabels(const Suite& suite, const Test& test) {
  std::map<std::string, std::string> out = test.labels;
  out.insert(suite.labels.begin(), suite.labels.end());  // the test's own win
  return out;
}

bool MatchesLabels(const std::map<std::string, std::string>& labels, const LabelSet& want) {
  for (const auto& [key, values] : want) {
    auto it = labels.find(key);
    if (it == labels.end() || values.count(it->second) == 0) return false;
  }
  return true;
}

bool MatchesAnyLabel(const std::map<std::string, std::string>& labels, const LabelSet& any) {
  for (const auto& [key, values] : any) {
    auto it = labels.find(key);
    if (it != labels.end() && values.count(it->second) != 0) return true;
  }
  return false;
}

namespace {

std::unique_ptr<re2::RE2> CompileFlag(const std::string& pattern, const char* flag,
                                      std::string* error) {
  if (pattern.empty()) return nullptr;
  RE2::Options re_options;
  re_options.set_log_errors(false);
  auto re = std::make_unique<re2::RE2>(pattern, re_options);
  if (!re->ok()) {
    *error = std::string(flag) + ": invalid regular expression \"" + pattern + "\": " +
             re->error();
  }
  return re;
}

// True if --gtest_filter selects the test or one of the subtests it lists (a pattern such
// as "KvStore.*Put" names subtests without naming their parent).
bool GTestSelects(const GTestFilter& filter, const Suite& suite, const Test& test) {
  if (filter.Selects(suite.name, test.name)) return true;
  return std::any_of(test.subtests.begin(), test.subtests.end(), [&](const std::string& sub) {
    return filter.Selects(suite.name, test.name + "/" + sub);
  });
}

}  // namespace

AssessmentFilter::AssessmentFilter(std::string_view assess, std::string_view skip_assess) {
  for (auto [re, pattern, flag] : {std::tuple{&assess_, assess, "--assess"},
                                   std::tuple{&skip_, skip_assess, "--skip-assessment"}}) {
    *re = CompileFlag(std::string(pattern), flag, &error_);
    if (*re && !(*re)->ok()) {
      assess_.reset();
      skip_.reset();
      return;
    }
  }
}

AssessmentFilter::~AssessmentFilter() = default;
AssessmentFilter::AssessmentFilter(AssessmentFilter&&) noexcept = default;

bool AssessmentFilter::Selects(std::string_view name) const {
  if (empty()) return true;
  std::string spaced(name);
  std::replace(spaced.begin(), spaced.end(), '_', ' ');
  auto matches = [&](const RE2& re) {
    return RE2::PartialMatch(name, re) || RE2::PartialMatch(spaced, re);
  };
  if (assess_ && !matches(*assess_)) return false;
  if (skip_ && matches(*skip_)) return false;
  return true;
}

SubtestSelector::SubtestSelector(const SelectionOptions& options)
    : gtest_(options.gtest_filter),
      assessments_(options.assess_pattern, options.skip_assess_pattern) {
  std::string ignored;
  run_ = NameFilter::Compile(options.run_pattern, &ignored);
  skip_ = NameFilter::Compile(options.skip_pattern, &ignored);
}

std::vector<std::string> SubtestSelector::Of(const Test& test, std::string_view suite) const {
  std::vector<std::string> out;
  for (const std::string& sub : test.subtests) {
    const std::string full = test.name + "/" + sub;
    if (run_ && !run_->Selects(full)) continue;
    if (skip_ && skip_->Skips(full)) continue;
    if (test.feature && !assessments_.Selects(sub)) continue;
    if (gtest_ && !gtest_->Selects(suite, full)) continue;
    out.push_back(sub);
  }
  return out;
}

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
  std::unique_ptr<re2::RE2> feature_re, skip_feature_re;
  for (auto [re, pattern, flag] :
       {std::tuple{&feature_re, &options.feature_pattern, "--feature"},
        std::tuple{&skip_feature_re, &options.skip_feature_pattern, "--skip-features"}}) {
    *re = CompileFlag(*pattern, flag, error);
    if (*re && !(*re)->ok()) return false;
  }
  if (const AssessmentFilter assessments(options.assess_pattern, options.skip_assess_pattern);
      !assessments.error().empty()) {
    *error = assessments.error();
    return false;
  }
  const SubtestSelector subtests(options);
  const bool assessments_filtered =
      !options.assess_pattern.empty() || !options.skip_assess_pattern.empty();
  int index = 0;  // position among all selected tests, for sharding
  for (const Suite& suite : catalog.suites) {
    if (suite_re && !RE2::PartialMatch(suite.name, *suite_re) &&
        !RE2::PartialMatch(suite.namespace_name + "/" + suite.name, *suite_re)) {
      continue;
    }
    SelectedSuite selected{&suite, {}};
    if (suite.external) {
      // Its tests are the command's: the suite is taken whole (--run goes to the tool's own
      // filter), by its labels, and as one unit of a shard.
      if (!options.labels.empty() || !options.skip_labels.empty()) {
        if (!MatchesLabels(suite.labels, options.labels) ||
            MatchesAnyLabel(suite.labels, options.skip_labels)) {
          continue;
        }
      }
      // What the tool cannot do is an error, never ignored.
      if (!options.skip_pattern.empty()) {
        *error = "--skip: external suite \"" + suite.name +
                 "\" cannot leave tests out (its command runs them); leave the suite out with --suite";
        return false;
      }
      if (!options.run_pattern.empty() && suite.external->tool == ExternalTool::kOther) {
        *error = "--run: external suite \"" + suite.name +
                 "\" has no tool that selects tests (tool: go, pytest or node); leave it out with --suite";
        return false;
      }
      if (index++ % options.shard_total != options.shard_index) continue;
      out->push_back(std::move(selected));
      continue;
    }
    for (const Test& test : suite.tests) {
      if (!run->Selects(test.name) || skip->Skips(test.name)) continue;
      if (options.gtest_filter && !GTestSelects(*options.gtest_filter, suite, test)) continue;
      if (!options.labels.empty() || !options.skip_labels.empty()) {
        const std::map<std::string, std::string> labels = EffectiveLabels(suite, test);
        if (!MatchesLabels(labels, options.labels) ||
            MatchesAnyLabel(labels, options.skip_labels)) {
          continue;
        }
      }
      if (test.feature) {
        if (feature_re && !RE2::PartialMatch(test.name, *feature_re)) continue;
        if (skip_feature_re && RE2::PartialMatch(test.name, *skip_feature_re)) continue;
        // A feature whose listed assessments are all filtered out has nothing to run.
        if (assessments_filtered && !test.subtests.empty() &&
            subtests.Of(test, suite.name).empty()) {
          continue;
        }
      }
      if (index++ % options.shard_total != options.shard_index) continue;
      selected.tests.push_back(&test);
    }
    if (!selected.tests.empty()) out->push_back(std::move(selected));
  }
  return true;
}

}  // namespace handoff
