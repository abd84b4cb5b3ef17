#include "cli/token_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "auth/auth.h"
#include "base/result.h"

namespace handoff {

struct TokenCommand {
  CLI::App* cmd = nullptr;
  std::string name;
  std::string role;
  std::string auth_file;
};

namespace {

constexpr int kExitFailed = 2;

int Fail(const std::string& message) {
  std::fprintf(stderr, "handoff: %s\n", message.c_str());
  return kExitFailed;
}

// Appends `line` to `path` (created 0600), after checking that the file still parses with it:
// a name given a second role, or a broken file, is refused before anything is written.
Result<void> AppendEntry(const std::string& path, const auth::AuthEntry& entry) {
  std::string existing;
  if (std::ifstream in(path); in) {
    std::ostringstream text;
    text << in.rdbuf();
    existing = text.str();
  }
  const std::string line = auth::FormatAuthEntry(entry) + "\n";
  const std::string separator = existing.empty() || existing.back() == '\n' ? "" : "\n";
  Result<std::vector<auth::AuthEntry>> parsed = auth::ParseAuthFile(existing + separator + line);
  if (!parsed.ok()) return Error{ErrorCode::kInvalid, path + ": " + parsed.error().message};
  Result<auth::Authenticator> checked = auth::Authenticator::Create(*parsed, std::nullopt);
  if (!checked.ok()) return Error{ErrorCode::kInvalid, path + ": " + checked.error().message};
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("cannot open {}: {}", path, std::strerror(errno))};
  }
  const std::string out = separator + line;
  const bool written = ::write(fd, out.data(), out.size()) == static_cast<ssize_t>(out.size());
  const int write_errno = errno;
  if (::close(fd) != 0 || !written) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("cannot write {}: {}", path, std::strerror(write_errno))};
  }
  return {};
}

}  // namespace

TokenCommand* AddTokenCommand(CLI::App& app) {
  static TokenCommand command;
  TokenCommand& c = command;
  c.cmd = app.add_subcommand("token", "Make an API token for serve's --auth-file");
  c.cmd->add_option("--name", c.name, "Who holds it: shown as initiated_by and in the log")
      ->required();
  c.cmd->add_option("--role", c.role, "read, run (also trigger, cancel, retry) or admin")
      ->required()
      ->check(CLI::IsMember({"read", "run", "admin"}));
  c.cmd->add_option("--auth-file", c.auth_file,
                    "Append the token's entry to this file (created with mode 0600)");
  return &command;
}

bool TokenParsed(const TokenCommand& command) {
  return command.cmd != nullptr && command.cmd->parsed();
}

int RunToken(const TokenCommand& command) {
  auth::AuthEntry entry;
  entry.name = command.name;
  entry.role = *auth::ParseRole(command.role);
  // The name must be one the file can hold: check it through the parser.
  if (Result<std::vector<auth::AuthEntry>> parsed =
          auth::ParseAuthFile(fmt::format("{} {}", entry.name, command.role));
      !parsed.ok() || parsed->size() != 1) {
    return Fail(fmt::format("--name: \"{}\" cannot be a name (no spaces, #, or control "
                            "characters; at most 200 bytes)",
                            command.name));
  }
  Result<std::string> token = auth::NewToken();
  if (!token.ok()) return Fail(token.error().message);
  entry.token = auth::HashToken(*token);
  if (!command.auth_file.empty()) {
    if (Result<void> appended = AppendEntry(command.auth_file, entry); !appended.ok()) {
      return Fail("--auth-file: " + appended.error().message);
    }
    std::fprintf(stderr, "handoff: added %s (%s) to %s; the token is shown only now\n",
                 entry.name.c_str(), command.role.c_str(), command.auth_file.c_str());
  } else {
    std::fprintf(stderr,
                 "handoff: add this line to serve's --auth-file; the token is shown only now:\n"
                 "%s\n",
                 auth::FormatAuthEntry(entry).c_str());
  }
  std::printf("%s\n", token->c_str());
  return 0;
}

}  // namespace handoff
