#pragma once

// How a store keeps the lists of its records (a run's tests, labels, params and values; an
// attempt's failures, values and spans) and a finished run's totals: the same for every
// backend, since nothing outside src/store reads them. Lists use the compact encoding
// (store/compact_encoding.h): an empty list is the empty string, and any bytes round-trip.
// Decoders return kCorrupt for data that is not such an encoding (truncated, an overlong
// count), naming what they decoded; the backend logs it and reads the list as empty.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/store.h"

namespace handoff::store {

// Returns the list encoded (the empty string for an empty list).
std::string EncodeKeyValues(const KeyValues& kv);
std::string EncodeStrings(const std::vector<std::string>& strings);
std::string EncodeFailures(const std::vector<Failure>& failures);
std::string EncodeSpans(const std::vector<Span>& spans);

// Returns the list the matching Encode... wrote, or kCorrupt.
Result<KeyValues> DecodeKeyValues(std::string_view data);
Result<std::vector<std::string>> DecodeStrings(std::string_view data);
Result<std::vector<Failure>> DecodeFailures(std::string_view data);
Result<std::vector<Span>> DecodeSpans(std::string_view data);

// Returns a run's hold in the compact encoding (the empty string for none), and the hold
// it wrote back (nullopt for the empty string), or kCorrupt.
std::string EncodeHold(const std::optional<RunHold>& hold);
Result<std::optional<RunHold>> DecodeHold(std::string_view data);

// Returns a run's totals as text: "total passed failed skipped soft_failed cancelled flaky".
std::string EncodeTotals(const RunTotals& totals);

// Returns the totals EncodeTotals wrote, or nullopt for anything else (the empty string of
// a run that has not finished). Servers before the one result model wrote the first four
// numbers only (top-level tests, soft failures counted as failed): those read back with the
// other fields 0.
std::optional<RunTotals> DecodeTotals(std::string_view text);

}  // namespace handoff::store
