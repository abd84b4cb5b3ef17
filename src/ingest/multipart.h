#pragma once

// A multipart/mixed body (RFC 2046): several reports sent as one request, so that the JUnit
// files of one CI job (one per test class, one per module) are stored as one run
// (`remote ingest` with several files). Each part carries its own Content-Type and, in
// Content-Disposition, the file name its errors are told with.
//
// Outside input: a body that is not well-formed multipart is an Error saying why, never a
// crash (fuzz/multipart_fuzz.cc); the parts and their headers are bounded.

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace handoff::ingest {

// The most parts one body may have.
inline constexpr std::size_t kMaxParts = 1000;

// One part of a multipart body; `body` points into the body that was split.
struct BodyPart {
  std::string file_name;     // Content-Disposition's filename (or name), "" if none
  std::string content_type;  // "" if the part has none
  std::string_view body;
};

// Returns true if `content_type` is multipart/mixed (any parameters).
bool IsMultipartMixed(std::string_view content_type);

// Splits `body`, sent with `content_type` (multipart/mixed; boundary=...), into its parts,
// in order. kInvalid: no boundary, no part, a part without its header's end, a body that
// never closes (a missing "--boundary--": cut short), more than kMaxParts parts.
Result<std::vector<BodyPart>> SplitMultipart(std::string_view content_type, std::string_view body);

}  // namespace handoff::ingest
