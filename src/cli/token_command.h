#pragma once

// `token`: makes an API token for serve's auth file.
//   token --name NAME --role read|run|admin [--auth-file FILE]
// Prints the new token on stdout (the only time it is shown: the server keeps its hash).
// With --auth-file, appends the entry (NAME ROLE sha256:HASH) to FILE, created with mode
// 0600; without, prints the entry on stderr to add by hand. Exit codes: 0 made, 2 bad usage
// or a file that cannot be written.

namespace CLI {
class App;
}

namespace handoff {

struct TokenCommand;

// Declares `token` on `app`; returns the state RunToken needs.
TokenCommand* AddTokenCommand(CLI::App& app);

// Returns true if the user chose `token`.
bool TokenParsed(const TokenCommand& command);

// Runs the parsed `token` and returns its exit code.
int RunToken(const TokenCommand& command);

}  // namespace handoff
