#pragma once

// HANDOFF_FORWARD(library, name, arity) defines the C function `name`, declared by the
// library's own header (included before), as a forwarder to the library's function of that
// name, found on its first call (dynlib/lazy_library.h). Its return and parameter types are
// taken from the header's declaration, so only the arity is written here; a wrong arity
// conflicts with the declaration and does not compile.

#include <cstddef>
#include <tuple>

#include "dynlib/lazy_library.h"

namespace handoff::dynlib {

template <typename F>
struct FunctionOf;
template <typename R, typename... A>
struct FunctionOf<R (*)(A...)> {
  using Return = R;
  using Args = std::tuple<A...>;
};

template <typename F>
using ReturnOf = typename FunctionOf<F>::Return;
template <typename F, std::size_t I>
using ArgOf = std::tuple_element_t<I, typename FunctionOf<F>::Args>;

}  // namespace handoff::dynlib

#define HANDOFF_FORWARD_ARG(name, i) ::handoff::dynlib::ArgOf<decltype(&name), i> a##i
#define HANDOFF_FORWARD_PARAMS_0(n)
#define HANDOFF_FORWARD_PARAMS_1(n) HANDOFF_FORWARD_ARG(n, 0)
#define HANDOFF_FORWARD_PARAMS_2(n) HANDOFF_FORWARD_PARAMS_1(n), HANDOFF_FORWARD_ARG(n, 1)
#define HANDOFF_FORWARD_PARAMS_3(n) HANDOFF_FORWARD_PARAMS_2(n), HANDOFF_FORWARD_ARG(n, 2)
#define HANDOFF_FORWARD_PARAMS_4(n) HANDOFF_FORWARD_PARAMS_3(n), HANDOFF_FORWARD_ARG(n, 3)
#define HANDOFF_FORWARD_PARAMS_5(n) HANDOFF_FORWARD_PARAMS_4(n), HANDOFF_FORWARD_ARG(n, 4)
#define HANDOFF_FORWARD_PARAMS_6(n) HANDOFF_FORWARD_PARAMS_5(n), HANDOFF_FORWARD_ARG(n, 5)
#define HANDOFF_FORWARD_PARAMS_7(n) HANDOFF_FORWARD_PARAMS_6(n), HANDOFF_FORWARD_ARG(n, 6)
#define HANDOFF_FORWARD_PARAMS_8(n) HANDOFF_FORWARD_PARAMS_7(n), HANDOFF_FORWARD_ARG(n, 7)
#define HANDOFF_FORWARD_ARGS_0
#define HANDOFF_FORWARD_ARGS_1 a0
#define HANDOFF_FORWARD_ARGS_2 HANDOFF_FORWARD_ARGS_1, a1
#define HANDOFF_FORWARD_ARGS_3 HANDOFF_FORWARD_ARGS_2, a2
#define HANDOFF_FORWARD_ARGS_4 HANDOFF_FORWARD_ARGS_3, a3
#define HANDOFF_FORWARD_ARGS_5 HANDOFF_FORWARD_ARGS_4, a4
#define HANDOFF_FORWARD_ARGS_6 HANDOFF_FORWARD_ARGS_5, a5
#define HANDOFF_FORWARD_ARGS_7 HANDOFF_FORWARD_ARGS_6, a6
#define HANDOFF_FORWARD_ARGS_8 HANDOFF_FORWARD_ARGS_7, a7

// Hidden: handoff's own calls (and Asio's) bind to the forwarder when the binary is linked,
// but no shared library ever does. Another library of the process that uses OpenSSL (or a
// test binary that links libcrypto itself) keeps calling its own OpenSSL.
#define HANDOFF_FORWARD(library, name, arity)                                                 \
  extern "C" __attribute__((visibility("hidden")))                                            \
  ::handoff::dynlib::ReturnOf<decltype(&name)> name(                                          \
      HANDOFF_FORWARD_PARAMS_##arity(name)) {                                                 \
    static const auto target = reinterpret_cast<decltype(&name)>((library).Symbol(#name));   \
    return target(HANDOFF_FORWARD_ARGS_##arity);                                              \
  }
