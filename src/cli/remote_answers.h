#pragma once

// What the commands of `remote` share to tell what they did and what a server answered
// (remote_command.cc).

#include <string>
#include <string_view>

#include "http_client/http_client.h"

namespace handoff {

// Exit code of bad usage, and of a server that could not be reached or refused the request.
inline constexpr int kExitUsage = 2;

// Prints "handoff remote: <message>" on stderr; returns kExitUsage.
int FailRemote(const std::string& message);

// Returns the "message" of an API error document with its status ("no suite named ... (404)"),
// or the status and body of an answer that is not one.
std::string ServerErrorMessage(const http::ClientResult& r);

// Returns `s` percent-encoded for a path segment or a query value.
std::string PercentEncode(std::string_view s);

// Prints the tests of a finished run (its JSON, as the API answers) that changed since the
// previous run, one line per kind: "new failures: A, B", "fixed: D", ...
void PrintRunChanges(const std::string& run_json);

}  // namespace handoff
