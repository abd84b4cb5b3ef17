// JSON request bodies (src/http/json_input.h) as the API reads them, and the stored event
// data a live stream inspects: every reader of every field either takes the value or names
// the field in error().

#include <string>
#include <vector>

#include "fuzz/fuzz_target.h"
#include "http/json_input.h"
#include "http/router.h"

HANDOFF_FUZZ_TARGET(json_body) {
  using namespace handoff;
  const std::string_view input = fuzz::AsText(data, size);
  http::BodyFields fields(input);
  if (!fields.error().empty()) FUZZ_CHECK(fields.size() == 0);
  for (std::size_t i = 0; i < fields.size(); ++i) {
    (void)fields.name(i);
    std::string s;
    bool b = false;
    std::int64_t n = 0;
    store::KeyValues map;
    std::vector<std::string> list;
    // Every reader runs (no short circuit): each must cope with any value.
    std::string object;
    const bool is_object = fields.ObjectText(i, &object);
    const int taken = int{fields.String(i, &s)} + int{fields.Bool(i, &b)} +
                      int{fields.Int(i, &n)} + int{fields.StringMap(i, &map)} +
                      int{fields.StringArray(i, &list)} + int{is_object};
    if (taken == 0) FUZZ_CHECK(!fields.error().empty());
    if (is_object && !object.empty()) {
      // An object's text is read again as a body of its own (a schedule's "hunt"): it
      // parses, whatever the object held.
      http::BodyFields inner(object);
      FUZZ_CHECK(inner.error().empty());
    }
  }
  if (fields.size() > 0) {
    FUZZ_CHECK(!fields.Unknown(0));
    FUZZ_CHECK(!fields.Invalid(0, "it is fuzz"));
    FUZZ_CHECK(!fields.error().empty());
  }
  (void)http::IsRunFinishedEvent(store::RunEvent{.seq = 1, .type = "run", .data = std::string(input)});
  return 0;
}
