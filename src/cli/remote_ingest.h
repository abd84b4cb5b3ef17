#pragma once

// `remote ingest`: sends reports produced elsewhere (a CI job's go test -json stream, JUnit
// XML, TAP) to a server, which stores them as one finished run of a suite
// (POST /api/v1/suites/{suite}/ingest). Several files are one run, sent as one
// multipart/mixed request: a CI job writes a JUnit file per test class or module, and its
// run is all of them.

#include <string>
#include <vector>

#include "http_client/http_client.h"

namespace CLI {
class App;
}

namespace handoff {

// The flags of `remote ingest`.
struct RemoteIngest {
  std::string suite;
  std::string reference;
  std::string environment;
  std::string initiated_by;
  std::string format;  // "go-test-json", "junit", "tap", or "" (by each file's name, else sniffed)
  std::vector<std::string> files;  // "-": standard input
};

// Declares the options of `remote ingest` on `command` (the server, token and TLS flags
// are declared by remote_command.cc).
void AddRemoteIngestOptions(CLI::App* command, RemoteIngest& options);

// Sends the files of `options` to the server `client` talks to (`base`: the URL's path
// prefix; `server`: the URL as shown); prints the run stored and its totals. Returns 0 once
// the run is stored (whatever its tests did), kExitUsage with the server's message when it
// refused the report, could not be reached or a file could not be read.
int RunRemoteIngest(http::Client& client, const std::string& base, const std::string& server,
                    const RemoteIngest& options);

}  // namespace handoff
