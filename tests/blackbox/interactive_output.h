#pragma once

// Reads what workload::RunInteractive prints (src/workload/interactive.cc): the
// environment, each runnable's ports with the endpoint from the host and from other
// runnables, and the URL that ends the wait.

#include <chrono>
#include <cstdint>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "http_client/http_client.h"

namespace handoff::testing {

struct InteractiveOutput {
  std::string environment;  // its name
  std::string kind;         // "Docker" or "processes"
  // runnable -> port -> {endpoint from the host, endpoint from other runnables}
  std::map<std::string, std::map<std::string, std::pair<std::string, std::string>>> runnables;
  std::string url;  // "" until printed
};

// GETs `path` from an endpoint it printed ("host:port") with the library's client.
inline http::ClientResult GetEndpoint(const std::string& endpoint, const std::string& path) {
  const std::size_t colon = endpoint.rfind(':');
  http::Client client(endpoint.substr(0, colon),
                      static_cast<std::uint16_t>(std::stoi(endpoint.substr(colon + 1))));
  return client.Request("GET", path, {}, {}, std::chrono::seconds(5));
}

inline InteractiveOutput ParseInteractiveOutput(const std::string& text) {
  static const std::regex kEnvironment(R"(^Environment (\S+) \((Docker|processes)\) is up\.$)");
  static const std::regex kRunnable(R"(^  (\S+)( \(not running\))?$)");
  static const std::regex kPort(R"(^    (\S+) +(\S+) +from other runnables: (\S+)$)");
  static const std::regex kUrl(R"(open (http://127\.0\.0\.1:\d+/) to stop waiting)");
  InteractiveOutput parsed;
  std::istringstream in(text);
  std::string line, runnable;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, kEnvironment)) {
      parsed.environment = m[1];
      parsed.kind = m[2];
    } else if (std::regex_match(line, m, kRunnable)) {
      runnable = m[1];
      parsed.runnables[runnable];
    } else if (std::regex_match(line, m, kPort) && !runnable.empty()) {
      parsed.runnables[runnable][m[1]] = {m[2], m[3]};
    } else if (std::regex_search(line, m, kUrl)) {
      parsed.url = m[1];
    }
  }
  return parsed;
}

}  // namespace handoff::testing
