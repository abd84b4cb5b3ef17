#pragma once

// Which run parameters are secret. A suite names its secret params (Suite::secret_params)
// and `serve --secret-params` adds patterns for every suite; when a run is created the
// engine decides, once, which of its params those patterns match and stores the names
// with the run (store::Run::secret_params), where every surface reads the decision.

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "store/store.h"

namespace handoff {

// Returns true if `name` matches the glob `pattern`, ignoring ASCII case: '*' matches any
// run of characters (none included), '?' exactly one, every other character itself.
bool SecretPatternMatches(std::string_view pattern, std::string_view name);

// A list of secret param patterns (names or globs, see SecretPatternMatches).
class SecretParamPatterns {
 public:
  // No pattern: nothing is secret.
  SecretParamPatterns() = default;
  // The given patterns (a suite's secret_params), each a name or a glob.
  explicit SecretParamPatterns(std::vector<std::string> patterns)
      : patterns_(std::move(patterns)) {}

  // Parses a comma-separated list ("PASSWORD, *_TOKEN,*_KEY"; blanks around a pattern are
  // dropped). kInvalid for an empty pattern (",," or a trailing comma); "" is no pattern.
  static Result<SecretParamPatterns> Parse(std::string_view list);

  // Returns true if some pattern matches `name`.
  bool Matches(std::string_view name) const;

  // The patterns, in the order given.
  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  std::vector<std::string> patterns_;
};

// Returns the names of `params` that are secret: matched by `suite` or `server` patterns,
// or already in `known` (the secret params of the run a retry repeats, kept even when the
// patterns have changed since), in the order of `params`.
std::vector<std::string> DecideSecretParams(const store::KeyValues& params,
                                            const SecretParamPatterns& suite,
                                            const SecretParamPatterns& server,
                                            const std::vector<std::string>& known);

// Replaces a run's secret values in what its tests write (output, logs, failures, skip
// reasons, values, span attributes) before anything records it, as CI systems mask
// secrets in their logs: a test that prints its password does not show it either. Each
// line of a value is masked on its own (a multi-line key is printed line by line); values
// and lines shorter than kMinMaskedLength are left alone, they would mask ordinary text.
class SecretMask {
 public:
  // The shortest secret (or line of one) that is masked.
  static constexpr std::size_t kMinMaskedLength = 4;

  // Masks nothing.
  SecretMask() = default;
  // The mask of `run`'s secret params (store::Run::secret_params).
  static SecretMask Of(const store::Run& run);
  // The mask of the values of `params` named in `secret_params` (a hunt's, before its runs).
  static SecretMask Of(const store::KeyValues& params,
                       const std::vector<std::string>& secret_params);

  // Returns true if there is nothing to mask.
  bool empty() const { return secrets_.empty(); }
  // Replaces every occurrence of a secret in `text` with store::kRedacted; returns true if
  // it replaced any.
  bool Mask(std::string& text) const;
  // Masks what describes a run or a hunt, which is shown and never passed to a test: its
  // labels' values and `texts` (its reference, who started it, on whose behalf). A caller
  // who pasted a secret there does not see it shown either.
  void MaskDescription(store::KeyValues& labels, std::initializer_list<std::string*> texts) const;

 private:
  std::vector<std::string> secrets_;  // longest first, so no part of one is left over
};

}  // namespace handoff
