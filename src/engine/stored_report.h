#pragma once

// The reports of `run` (go test -json, JUnit XML) rendered from a stored run, for
// GET /api/v1/runs/{id}/report: the stored attempts are replayed as events through the
// same reporters, so both commands produce the same reports.

#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace handoff {

// Renders `run` (with its test rows and every attempt) as `format`: "json" or "junit".
// Returns false for any other format.
bool RenderStoredReport(const store::Run& run, const std::vector<store::TestRow>& tests,
                        const std::vector<store::Attempt>& attempts, std::string_view format,
                        std::string* out);

}  // namespace handoff
