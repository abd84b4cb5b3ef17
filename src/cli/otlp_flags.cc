#include "cli/otlp_flags.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "http_client/http_client.h"

namespace handoff {
namespace {

std::string ServiceName(const OtlpFlags& flags) {
  if (!flags.service_name.empty()) return flags.service_name;
  std::error_code ec;
  std::string name = std::filesystem::read_symlink("/proc/self/exe", ec).filename().string();
  return name.empty() ? "handoff" : name;
}

Result<std::vector<std::pair<std::string, std::string>>> Headers(const OtlpFlags& flags) {
  if (!flags.headers_file.empty()) {
    std::ifstream in(flags.headers_file);
    if (!in) {
      return Error{ErrorCode::kInvalid, fmt::format("--otlp-headers-file: cannot read {}: {}",
                                                    flags.headers_file, std::strerror(errno))};
    }
    std::ostringstream text;
    text << in.rdbuf();
    auto parsed = otlp::ParseHeaders(text.str());
    if (!parsed.ok()) {
      return Error{ErrorCode::kInvalid, fmt::format("--otlp-headers-file {}: {}",
                                                    flags.headers_file, parsed.error().message)};
    }
    return parsed;
  }
  if (const char* env = std::getenv("HANDOFF_OTLP_HEADERS")) {
    auto parsed = otlp::ParseHeaders(env);
    if (!parsed.ok()) {
      return Error{ErrorCode::kInvalid, "HANDOFF_OTLP_HEADERS: " + parsed.error().message};
    }
    return parsed;
  }
  return std::vector<std::pair<std::string, std::string>>{};
}

}  // namespace

void OtlpFlags::Add(CLI::App* cmd, bool from_environment) {
  CLI::Option* endpoint_flag = cmd->add_option(
      "--otlp-endpoint", endpoint,
      "Export each test attempt, subtest and span as OpenTelemetry traces (OTLP/HTTP JSON) "
      "to URL/v1/traces");
  CLI::Option* headers_flag = cmd->add_option(
      "--otlp-headers-file", headers_file,
      "Headers of the OTLP requests, name=value per line (else HANDOFF_OTLP_HEADERS, "
      "comma-separated); never printed");
  CLI::Option* service_flag = cmd->add_option(
      "--otlp-service-name", service_name,
      "The traces' service.name (default: this binary's name)");
  if (from_environment) {
    endpoint_flag->envname("HANDOFF_OTLP_ENDPOINT");
    headers_flag->envname("HANDOFF_OTLP_HEADERS_FILE");
    service_flag->envname("HANDOFF_OTLP_SERVICE_NAME");
  }
}

Result<std::optional<otlp::ExporterOptions>> OtlpFlags::Options() const {
  if (endpoint.empty()) return std::optional<otlp::ExporterOptions>();
  std::string error;
  if (!http::ParseUrl(endpoint, &error)) return Error{ErrorCode::kInvalid, "--otlp-endpoint: " + error};
  auto headers = Headers(*this);
  if (!headers.ok()) return headers.error();
  otlp::ExporterOptions options;
  options.endpoint = endpoint;
  options.headers = std::move(headers).value();
  options.service_name = ServiceName(*this);
  return std::optional<otlp::ExporterOptions>(std::move(options));
}

Result<std::unique_ptr<otlp::Exporter>> OtlpFlags::Start(
    std::function<void(const std::string&)> on_error) const {
  auto options = Options();
  if (!options.ok()) return options.error();
  if (!*options) return std::unique_ptr<otlp::Exporter>();
  (*options)->on_error = std::move(on_error);
  auto exporter = otlp::Exporter::Start(std::move(**options));
  if (!exporter.ok()) {
    return Error{ErrorCode::kInvalid, "--otlp-endpoint: " + exporter.error().message};
  }
  return exporter;
}

std::string OtlpFlags::Describe() const {
  if (endpoint.empty()) return "off";
  auto headers = Headers(*this);
  const std::size_t n = headers.ok() ? headers->size() : 0;
  return fmt::format("{} as service {} ({} header{})", endpoint, ServiceName(*this), n,
                     n == 1 ? "" : "s");
}

}  // namespace handoff
