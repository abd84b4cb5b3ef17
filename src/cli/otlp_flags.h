#pragma once

// The trace export flags of `run` and `serve` (docs/writing-tests.md, Traces): where spans
// go, the headers that authenticate them (from a file or a variable, never argv) and the
// service name. serve also reads each from HANDOFF_<FLAG>.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/result.h"
#include "otlp/exporter.h"

namespace CLI {
class App;
}

namespace handoff {

struct OtlpFlags {
  std::string endpoint;      // empty: no export
  std::string headers_file;  // "name=value" lines; else HANDOFF_OTLP_HEADERS
  std::string service_name;  // empty: the binary's name

  // Declares --otlp-endpoint, --otlp-headers-file and --otlp-service-name on `cmd`; with
  // `from_environment`, each also reads HANDOFF_OTLP_ENDPOINT and so on (serve).
  void Add(CLI::App* cmd, bool from_environment);

  // Returns the exporter's options, or nullopt when no endpoint is set; kInvalid (exit 2)
  // names the flag that is wrong and never shows a header's value.
  Result<std::optional<otlp::ExporterOptions>> Options() const;

  // Returns a started exporter, or nullptr when no endpoint is set; errors as Options.
  // `on_error` receives the exporter's (throttled) failure lines.
  Result<std::unique_ptr<otlp::Exporter>> Start(
      std::function<void(const std::string&)> on_error) const;

  // Returns "<endpoint> as service <name> (N headers)" or "off", for --check-config.
  std::string Describe() const;
};

}  // namespace handoff
