// The http part's one reader of JSON: request bodies (BodyFields) and the data of a run's
// stored events (IsRunFinishedEvent). Kept to this file so that boost/json, a heavy header,
// is compiled once.

#include "http/json_input.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cstdint>
#include <utility>

#include "http/router.h"

namespace handoff::http {

namespace json = boost::json;

struct BodyFields::Object {
  json::object fields;
};

BodyFields::BodyFields(std::string_view body) : object_(std::make_unique<Object>()) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return;
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec) {
    error_ = fmt::format("request body is not valid JSON: {}", ec.message());
    return;
  }
  if (!value.is_object()) {
    error_ = "request body must be a JSON object";
    return;
  }
  object_->fields = std::move(value.as_object());
}

BodyFields::~BodyFields() = default;

std::size_t BodyFields::size() const { return object_->fields.size(); }

std::string_view BodyFields::name(std::size_t i) const {
  return (object_->fields.begin() + i)->key();
}

namespace {

const json::value& FieldValue(const json::object& fields, std::size_t i) {
  return (fields.begin() + i)->value();
}

}  // namespace

bool BodyFields::String(std::size_t i, std::string* out) {
  const json::value& v = FieldValue(object_->fields, i);
  if (!v.is_string()) return Fail(i, "a string");
  *out = std::string(v.as_string());
  return true;
}

bool BodyFields::Bool(std::size_t i, bool* out) {
  const json::value& v = FieldValue(object_->fields, i);
  if (!v.is_bool()) return Fail(i, "a boolean");
  *out = v.as_bool();
  return true;
}

bool BodyFields::ObjectText(std::size_t i, std::string* out) {
  const json::value& v = FieldValue(object_->fields, i);
  if (v.is_null()) {
    out->clear();
    return true;
  }
  if (!v.is_object()) return Fail(i, "an object");
  *out = json::serialize(v);
  return true;
}

bool BodyFields::Int(std::size_t i, std::int64_t* out) {
  const json::value& v = FieldValue(object_->fields, i);
  if (v.is_int64()) {
    *out = v.as_int64();
    return true;
  }
  if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    *out = static_cast<std::int64_t>(v.as_uint64());
    return true;
  }
  if (v.is_double()) {
    const double d = v.as_double();
    // In range before the cast: casting a double out of int64's range (1e400 reads as inf)
    // is undefined behaviour.
    if (d > -1e15 && d < 1e15 && d == static_cast<double>(static_cast<std::int64_t>(d))) {
      *out = static_cast<std::int64_t>(d);
      return true;
    }
  }
  return Fail(i, "an integer");
}

bool BodyFields::StringMap(std::size_t i, store::KeyValues* out) {
  const json::value& v = FieldValue(object_->fields, i);
  if (!v.is_object()) return Fail(i, "an object of strings");
  for (const auto& kv : v.as_object()) {
    if (!kv.value().is_string()) {
      error_ = fmt::format("field \"{}\": value of \"{}\" must be a string", name(i),
                           std::string_view(kv.key()));
      return false;
    }
    out->emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
  }
  return true;
}

bool BodyFields::StringArray(std::size_t i, std::vector<std::string>* out) {
  const json::value& v = FieldValue(object_->fields, i);
  if (!v.is_array()) return Fail(i, "an array of strings");
  for (const json::value& item : v.as_array()) {
    if (!item.is_string()) return Fail(i, "an array of strings");
    out->emplace_back(item.as_string());
  }
  return true;
}

bool BodyFields::Unknown(std::size_t i) {
  error_ = fmt::format("unknown field \"{}\"", name(i));
  return false;
}

bool BodyFields::Invalid(std::size_t i, std::string_view why) {
  error_ = fmt::format("field \"{}\": {}", name(i), why);
  return false;
}

bool BodyFields::Fail(std::size_t i, std::string_view what) {
  error_ = fmt::format("field \"{}\" must be {}", name(i), what);
  return false;
}

bool IsRunFinishedEvent(const store::RunEvent& event) {
  if (event.type != "run") return false;
  boost::system::error_code ec;
  const json::value data = json::parse(event.data, ec);
  if (ec || !data.is_object()) return false;
  const json::value* status = data.as_object().if_contains("status");
  if (status == nullptr || !status->is_string()) return false;
  store::RunStatus parsed;
  return store::ParseRunStatus(status->as_string(), &parsed) && store::IsFinished(parsed);
}

}  // namespace handoff::http
