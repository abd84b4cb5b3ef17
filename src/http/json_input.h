#pragma once

// JSON request bodies, read field by field. json_input.cc is the one file of the http part
// that includes boost/json (a heavy header): handlers see only this small interface.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace handoff::http {

// The fields of a JSON object request body, in the order sent; an empty body is an empty
// object. A handler walks the fields by index and reads each with the reader its type
// needs; a reader that refuses a value returns false and sets error() naming the field, so
// the first bad field in the body is the one reported.
class BodyFields {
 public:
  // Parses `body`; if it is not a JSON object, error() says why and there are no fields.
  explicit BodyFields(std::string_view body);
  ~BodyFields();
  BodyFields(const BodyFields&) = delete;
  BodyFields& operator=(const BodyFields&) = delete;

  // Why the body or a field was refused; empty while all is well.
  const std::string& error() const { return error_; }
  // The number of fields.
  std::size_t size() const;
  // The name of field `i` (i < size()).
  std::string_view name(std::size_t i) const;

  // Readers of field `i`: each stores the value in `out` when it has the right type.
  bool String(std::size_t i, std::string* out);
  bool Bool(std::size_t i, bool* out);
  bool Int(std::size_t i, std::int64_t* out);
  bool StringMap(std::size_t i, store::KeyValues* out);
  bool StringArray(std::size_t i, std::vector<std::string>* out);
  // An object's JSON text, for a BodyFields of its own ("" for null).
  bool ObjectText(std::size_t i, std::string* out);
  // Refuses field `i` as unknown to the endpoint.
  bool Unknown(std::size_t i);
  // Refuses field `i`, whose value has the right type but is invalid because `why`.
  bool Invalid(std::size_t i, std::string_view why);

 private:
  struct Object;  // the parsed boost::json::object

  bool Fail(std::size_t i, std::string_view what);

  std::unique_ptr<Object> object_;
  std::string error_;
};

}  // namespace handoff::http
