// A failure's signature (engine/failure_groups.h) is made from whatever a test printed in
// its failure: it stays within its bound, on one line, and cut at a character boundary of
// valid UTF-8 when the message was valid UTF-8.

#include <string>

#include "engine/failure_groups.h"
#include "fuzz/fuzz_target.h"

namespace {

bool ValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    const std::size_t n = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3 : (lead >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

}  // namespace

HANDOFF_FUZZ_TARGET(failure_signature) {
  using namespace handoff;
  const std::string_view input = fuzz::AsText(data, size);
  const std::string signature = FailureSignature(input);
  FUZZ_CHECK(signature.size() <= 300);
  FUZZ_CHECK(signature.find('\n') == std::string::npos);
  FUZZ_CHECK(signature.empty() || signature.front() != ' ');
  if (ValidUtf8(input)) FUZZ_CHECK(ValidUtf8(signature));
  FUZZ_CHECK(FailureSignature(signature).size() <= signature.size() + 8);
  return 0;
}
