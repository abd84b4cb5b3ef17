#pragma once

// Fixtures: set something up and guarantee its teardown, in one line.
//
// A fixture cannot leak if it follows Go's rule: register each teardown with t.Cleanup
// as soon as the thing it undoes exists, before the next step that can fail. A fixture
// made of several steps registers after each one; when a later step fails (Fatal, an
// exception), the teardowns of the earlier steps still run, last registered first.
//
// handoff::Use makes that rule one line. A function that creates something returns it
// together with its teardown, as a handoff::Resource (or in Go's shape,
// std::pair<R, std::function<void()>>), and Use registers the teardown on t.Cleanup
// before handing back the value:
//
//   handoff::Resource<Server> StartServer();    // a server and what stops it
//
//   Client ConnectedClient(handoff::T& t) {
//     Server server = handoff::Use(t, StartServer());  // stopped when the test ends...
//     return handoff::Use(t, Dial(t, server.port));    // ...also when Dial fails
//   }
//
// The teardown runs when the test (or subtest) that owns `t` ends: after it passes,
// fails, is skipped or throws. Two rules for the function that returns a Resource:
//   - it returns as soon as the thing exists (nothing that can fail may come between
//     creating it and returning it; a multi-step fixture takes the T& and calls Use
//     after each step, as ConnectedClient does);
//   - the teardown owns what it needs (captures values, or a std::shared_ptr), because
//     the value Use returns belongs to the caller, who may have destroyed it by then.

#include <functional>
#include <type_traits>
#include <utility>

#include "handoff/t.h"

namespace handoff {

// Something a fixture set up, and the function that undoes it (may be empty).
template <typename R>
struct Resource {
  R value;
  std::function<void()> teardown;
};

// Registers the resource's teardown on t.Cleanup, then returns its value.
template <typename R>
R Use(T& t, Resource<R> resource) {
  if (resource.teardown) t.Cleanup(std::move(resource.teardown));
  return std::move(resource.value);
}

// Registers `resource.second` on t.Cleanup, then returns `resource.first`: Go's
// `res, cleanup := f(); t.Cleanup(cleanup)`.
template <typename R, typename F>
  requires std::is_constructible_v<std::function<void()>, F>
R Use(T& t, std::pair<R, F> resource) {
  std::function<void()> teardown(std::move(resource.second));
  if (teardown) t.Cleanup(std::move(teardown));
  return std::move(resource.first);
}

namespace internal {

template <typename X>
struct IsResource : std::false_type {};
template <typename R>
struct IsResource<Resource<R>> : std::true_type {};
template <typename R, typename F>
  requires std::is_constructible_v<std::function<void()>, F>
struct IsResource<std::pair<R, F>> : std::true_type {};

}  // namespace internal

// Calls `factory` (with t if it takes a T&) and uses what it returns, a Resource or a
// pair: handoff::Use(t, StartServer) is handoff::Use(t, StartServer()).
template <typename F>
  requires(std::is_invocable_v<F&, T&> &&
           internal::IsResource<std::invoke_result_t<F&, T&>>::value) ||
          (!std::is_invocable_v<F&, T&> && std::is_invocable_v<F&> &&
           internal::IsResource<std::invoke_result_t<F&>>::value)
auto Use(T& t, F&& factory) {
  if constexpr (std::is_invocable_v<F&, T&>) {
    return Use(t, factory(t));
  } else {
    return Use(t, factory());
  }
}

}  // namespace handoff
