// Interactive use of the workload API: start an environment from a small program, keep it
// up for a person to explore, and close it when they are done (like efficientgo/e2e's
// e2einteractive). It has its own main() and links with handoff::handoff alone.
//
//   workload_interactive                  Docker when an engine answers, else processes
//   workload_interactive --env process    local processes even when Docker is there
//   workload_interactive --timeout 600    stop waiting after 10 minutes at most
//   workload_interactive --port 8099      the URL that ends the wait: http://127.0.0.1:8099/
//
// It starts two Prometheus servers, one scraping the other, prints their endpoints and
// waits for Ctrl-C, a GET of the printed URL or the timeout. Exit codes: 0 after a clean
// wait, 1 when the environment could not be made or started, 2 for a bad command line.

#include <handoff/workload.h>
#include <handoff/workload_services.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace wl = handoff::workload;

constexpr std::string_view kUsage =
    "usage: workload_interactive [--env auto|docker|process] [--name NAME] [--timeout SECONDS] "
    "[--port N]\n";

struct Flags {
  std::string env = "auto";  // auto: Docker when an engine answers
  // The environment's name; a Docker environment of this name left by a crashed run is
  // removed first.
  std::string name = "handoff-interactive";
  int timeout_seconds = 0;  // 0: wait until Ctrl-C or the URL
  int port = 0;             // 0: a free port
};

// Parses a whole non-negative decimal number not above `max`.
std::optional<int> ParseNumber(std::string_view text, int max) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0 || value > max) {
    return std::nullopt;
  }
  return value;
}

// Reads the command line into *flags; returns an error message, or "" when it is good.
std::string ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) return std::string(flag) + ": a value is needed";
    const std::string_view value = argv[++i];
    if (flag == "--env") {
      if (value != "auto" && value != "docker" && value != "process") {
        return "--env: want auto, docker or process, got \"" + std::string(value) + "\"";
      }
      flags->env = value;
    } else if (flag == "--name") {
      if (value.empty()) return "--name: the name is empty";
      flags->name = value;
    } else if (flag == "--timeout") {
      const std::optional<int> seconds = ParseNumber(value, 7 * 24 * 3600);
      if (!seconds) return "--timeout: want a number of seconds, got \"" + std::string(value) + "\"";
      flags->timeout_seconds = *seconds;
    } else if (flag == "--port") {
      const std::optional<int> port = ParseNumber(value, 65535);
      if (!port) return "--port: want a port from 0 to 65535, got \"" + std::string(value) + "\"";
      flags->port = *port;
    } else {
      return "unknown flag \"" + std::string(flag) + "\"";
    }
  }
  return "";
}

// Makes the environment the flags ask for; nullptr with *error set when it cannot be made.
std::unique_ptr<wl::Environment> MakeEnvironment(const Flags& flags, wl::Status* error) {
  bool docker = flags.env == "docker";
  if (flags.env == "auto") {
    const wl::Status engine = wl::Environment::DockerAvailable();
    if (!engine) std::cout << "No Docker engine (" << engine.message() << "): using processes.\n";
    docker = engine.ok();
  }
  return docker ? wl::Environment::NewDocker(flags.name, error)
                : wl::Environment::NewProcess(flags.name, error);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  Flags flags;
  if (const std::string error = ParseFlags(argc, argv, &flags); !error.empty()) {
    std::cerr << "workload_interactive: " << error << "\n" << kUsage;
    return 2;
  }
  wl::Status st;
  std::unique_ptr<wl::Environment> env = MakeEnvironment(flags, &st);
  if (!env) {
    std::cerr << "workload_interactive: " << st.message() << "\n";
    return 1;
  }

  // [docs:interactive]
  auto target = wl::NewPrometheus(*env, "prom-target");
  auto prometheus =
      wl::NewPrometheus(*env, "prom", {.scrape_targets = {target->InternalEndpoint("http")}});
  if (st = wl::StartAndWaitReady({target, prometheus}); !st) {
    std::cerr << "workload_interactive: " << st.message() << "\n";
    env->Close();
    return 1;
  }
  std::string ended_by;
  st = wl::RunInteractive(
      *env, {.port = flags.port, .timeout = std::chrono::seconds(flags.timeout_seconds)},
      &ended_by);
  env->Close();  // the destructor would too; Close says when it is done
  // [docs:end]
  if (!st) {
    std::cerr << "workload_interactive: " << st.message() << "\n";
    return 1;
  }
  std::cout << "Stopped waiting (" << ended_by << "); environment " << env->Name()
            << " is closed.\n";
  return 0;
}
