#pragma once

// The one result type of handoff's expected failures (the error policy is written in
// docs/internals.md, "Errors"): a function that can fail for a reason its caller must handle
// (a database that cannot write, a name that exists, a Docker engine that says no) returns
// a Result<T> holding either its value or an Error, instead of a bool, a sentinel value or
// a `std::string* error` out-parameter. std::expected is C++23; this is the part of it we use.
//
// A leaf: it includes only the standard library, so every part may use it.

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace handoff {

// What kind of failure an Error is, so that a caller decides what to do (an HTTP status, an
// exit code, a retry) without parsing its message.
enum class ErrorCode : std::uint8_t {
  kInvalid,      // the request or input is malformed: fixing it is the caller's job
  kNotFound,     // what was named does not exist
  kConflict,     // it exists already, or its state does not allow the change
  kUnavailable,  // a resource (the database, the disk) cannot do it now; it may later
  kCorrupt,      // stored data cannot be read back as what was written
  kUnsupported,  // this build or backend cannot do it at all (an unknown URL scheme)
  kInternal,     // a broken promise of our own code
};

// Returns the code's lower-case name ("not_found"), as logs and JSON errors spell it.
const char* ErrorCodeName(ErrorCode code);

// Why an operation failed: a code to act on and a message for people, naming what failed
// ("cannot open database \"x.db\": no such directory").
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

// Either a value of type T or an error of type E (an Error unless a part has a richer one,
// such as workload's DockerError). Constructed implicitly from either, so a function
// returns `value` or `Error{ErrorCode::kNotFound, "..."}`. Reading the side it does not
// hold is a broken invariant (an assertion).
template <typename T, typename E = Error>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::remove_cv_t<T>, std::remove_cv_t<E>>,
                "a Result's value and error types must differ");

 public:
  // A successful result holding `value` (anything T can be constructed from).
  template <typename U = T>
    requires(std::is_constructible_v<T, U &&> &&
             !std::is_same_v<std::remove_cvref_t<U>, Result> &&
             !std::is_same_v<std::remove_cvref_t<U>, E>)
  Result(U&& value) : state_(std::in_place_index<0>, std::forward<U>(value)) {}
  // A failed result holding `error`.
  Result(E error) : state_(std::in_place_index<1>, std::move(error)) {}

  // Returns true if and only if the result holds a value.
  bool ok() const { return state_.index() == 0; }

  // Returns the value; the result must be ok().
  const T& value() const& {
    assert(ok());
    return *std::get_if<0>(&state_);
  }
  T& value() & {
    assert(ok());
    return *std::get_if<0>(&state_);
  }
  T&& value() && {
    assert(ok());
    return std::move(*std::get_if<0>(&state_));
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  // Returns the error; the result must not be ok().
  const E& error() const& {
    assert(!ok());
    return *std::get_if<1>(&state_);
  }
  E&& error() && {
    assert(!ok());
    return std::move(*std::get_if<1>(&state_));
  }

 private:
  std::variant<T, E> state_;
};

// Success with no value, or an error of type E.
template <typename E>
class [[nodiscard]] Result<void, E> {
 public:
  // A successful result.
  Result() = default;
  // A failed result holding `error`.
  Result(E error) : error_(std::move(error)) {}

  // Returns true if and only if the operation succeeded.
  bool ok() const { return !error_.has_value(); }

  // Returns the error; the result must not be ok().
  const E& error() const& {
    assert(!ok());
    return *error_;
  }
  E&& error() && {
    assert(!ok());
    return std::move(*error_);
  }

 private:
  std::optional<E> error_;
};

}  // namespace handoff
