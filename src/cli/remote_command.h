#pragma once

// `remote`: the client of a handoff server, for deploy pipelines and terminals.
//   remote trigger SUITE --server URL [--filter R] [--reference REF] [--wait]
//   remote ingest --suite S --server URL [--reference REF] [--format F] FILE...
//   remote hunt SUITE --server URL [--repeat N] [--max-duration D] [--until-failure] [--wait]
//   remote hunts [ID] --server URL;  remote stop-hunt ID --server URL [--cancel]
//   remote suites --server URL
//   remote runs --server URL [--suite S] [--status S] [--reference R] [--limit N]
//   remote get ID --server URL
//   remote release ID --server URL
//   remote health --server URL [--ready]
// URL is http://HOST:PORT or https://HOST:PORT (with --cacert, and --cert/--key for mTLS).
// Exit codes: 0 (a waited-for run passed), 1 (it failed, was cancelled or ended in
// error), 2 (bad usage, or the server could not be reached or refused the request).

namespace CLI {
class App;
}

namespace handoff {

struct RemoteCommand;

// Declares `remote` and its subcommands on `app`; returns the state RunRemote needs.
RemoteCommand* AddRemoteCommand(CLI::App& app);

// Returns true if the user chose `remote`.
bool RemoteParsed(const RemoteCommand& command);

// Runs the parsed `remote` subcommand and returns its exit code.
int RunRemote(const RemoteCommand& command);

}  // namespace handoff
