#pragma once

// A minimal JSON value and parser for the shop example: enough to read the service's
// requests and responses without pulling a JSON library into a copyable example.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shop {

// One parsed JSON value: null, a boolean, a number, a string, an array or an object.
class Json {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  // Parses `text` (one JSON value, surrounding whitespace allowed). On error returns
  // nullopt and, if `error` is not null, sets it to a message with the byte offset.
  static std::optional<Json> Parse(std::string_view text, std::string* error = nullptr);

  Kind kind() const { return kind_; }
  bool is_object() const { return kind_ == Kind::kObject; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_number() const { return kind_ == Kind::kNumber; }

  // Returns the member `key` of an object, or nullptr if this is not an object or has
  // no such member.
  const Json* Find(std::string_view key) const;
  // Returns the string member `key`, or nullopt if it is missing or not a string.
  std::optional<std::string> GetString(std::string_view key) const;
  // Returns the number member `key`, or nullopt if it is missing or not a number.
  std::optional<double> GetNumber(std::string_view key) const;

  // The elements of an array (empty for other kinds).
  const std::vector<Json>& items() const { return items_; }
  // The number of a number value (0 for other kinds).
  double number() const { return number_; }
  // The text of a string value (empty for other kinds).
  const std::string& string() const { return string_; }

 private:
  friend class JsonParser;
  Kind kind_ = Kind::kNull;
  bool boolean_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> members_;
};

// Returns `s` as a quoted, escaped JSON string.
std::string JsonQuote(std::string_view s);

}  // namespace shop
