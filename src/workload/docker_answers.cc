#include "workload/docker_answers.h"

#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <cstdint>

namespace handoff::workload {
namespace {

namespace json = boost::json;

// Reading the engine's JSON: a missing member or one of another type reads as empty.
const json::value* Member(const json::value& v, std::string_view key) {
  const json::object* object = v.if_object();
  return object ? object->if_contains(key) : nullptr;
}
const json::value& MemberOrNull(const json::value& v, std::string_view key) {
  static const json::value null;
  const json::value* m = Member(v, key);
  return m ? *m : null;
}
std::string String(const json::value& v, std::string_view key) {
  const json::value* m = Member(v, key);
  return m && m->is_string() ? std::string(m->get_string()) : std::string();
}
std::int64_t Int(const json::value& v, std::string_view key) {
  const json::value* m = Member(v, key);
  if (m == nullptr) return 0;
  if (m->is_int64()) return m->get_int64();
  if (m->is_uint64()) return static_cast<std::int64_t>(m->get_uint64());
  // In range before the cast: casting a double out of int64's range (1e400 reads as inf)
  // is undefined behaviour.
  if (m->is_double() && m->get_double() > -9e18 && m->get_double() < 9e18) {
    return static_cast<std::int64_t>(m->get_double());
  }
  return 0;
}
bool Bool(const json::value& v, std::string_view key) {
  const json::value* m = Member(v, key);
  return m && m->is_bool() && m->get_bool();
}
std::vector<std::string> Strings(const json::value& v, std::string_view key) {
  std::vector<std::string> out;
  if (const json::value* m = Member(v, key); m && m->is_array()) {
    for (const json::value& item : m->get_array()) {
      if (item.is_string()) out.emplace_back(item.get_string());
    }
  }
  return out;
}
Labels LabelsOf(const json::value& v, std::string_view key) {
  Labels out;
  if (const json::value* m = Member(v, key); m && m->is_object()) {
    for (const auto& [name, value] : m->get_object()) {
      if (value.is_string()) out.emplace(std::string(name), std::string(value.get_string()));
    }
  }
  return out;
}

// Parses an answer the engine documents as JSON; nullopt when it is not.
std::optional<json::value> ParseJson(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return std::nullopt;
  return v;
}

}  // namespace

std::string EngineMessage(std::string_view body) {
  if (const auto v = ParseJson(body)) {
    if (std::string message = String(*v, "message"); !message.empty()) return message;
  }
  while (!body.empty() && std::isspace(static_cast<unsigned char>(body.back()))) {
    body.remove_suffix(1);
  }
  if (body.empty()) return "no message";
  return std::string(body.substr(0, 1000));
}

std::pair<int, int> ParseApiVersion(std::string_view version) {
  std::pair<int, int> out{0, 0};
  const std::size_t dot = version.find('.');
  if (dot == std::string_view::npos) return out;
  const char* end = version.data() + version.size();
  if (std::from_chars(version.data(), version.data() + dot, out.first).ec != std::errc() ||
      std::from_chars(version.data() + dot + 1, end, out.second).ec != std::errc()) {
    return {0, 0};
  }
  return out;
}

std::optional<EngineVersion> DecodeVersion(std::string_view body) {
  const auto v = ParseJson(body);
  if (!v) return std::nullopt;
  return EngineVersion{String(*v, "Version"), String(*v, "ApiVersion"),
                       String(*v, "MinAPIVersion"), String(*v, "Os"), String(*v, "Arch")};
}

std::optional<std::string> DecodeCreatedId(std::string_view body) {
  const auto v = ParseJson(body);
  if (!v) return std::nullopt;
  std::string id = String(*v, "Id");
  if (id.empty()) return std::nullopt;
  return id;
}

std::optional<std::vector<NetworkInfo>> DecodeNetworks(std::string_view body) {
  const auto v = ParseJson(body);
  if (!v || !v->is_array()) return std::nullopt;
  std::vector<NetworkInfo> out;
  for (const json::value& n : v->get_array()) {
    out.push_back(NetworkInfo{String(n, "Id"), String(n, "Name"), LabelsOf(n, "Labels")});
  }
  return out;
}

std::optional<ContainerInfo> DecodeContainer(std::string_view body) {
  const auto v = ParseJson(body);
  if (!v || !v->is_object()) return std::nullopt;
  ContainerInfo info;
  info.id = String(*v, "Id");
  info.name = String(*v, "Name");
  if (info.name.starts_with('/')) info.name.erase(0, 1);
  const json::value& config = MemberOrNull(*v, "Config");
  info.image = String(config, "Image");
  info.labels = LabelsOf(config, "Labels");
  const json::value& state = MemberOrNull(*v, "State");
  info.status = String(state, "Status");
  info.running = Bool(state, "Running");
  info.exit_code = static_cast<int>(Int(state, "ExitCode"));
  info.oom_killed = Bool(state, "OOMKilled");
  info.error = String(state, "Error");
  info.health = String(MemberOrNull(state, "Health"), "Status");
  const json::value& network_settings = MemberOrNull(*v, "NetworkSettings");
  if (const json::value* ports = Member(network_settings, "Ports"); ports && ports->is_object()) {
    for (const auto& [port, bindings] : ports->get_object()) {
      if (!bindings.is_array()) continue;  // null: exposed, not published
      for (const json::value& binding : bindings.get_array()) {
        const std::string host_port = String(binding, "HostPort");
        unsigned value = 0;
        const auto [end, ec] =
            std::from_chars(host_port.data(), host_port.data() + host_port.size(), value);
        if (ec == std::errc() && value > 0 && value <= 65535) {
          info.host_ports.emplace(std::string(port), static_cast<std::uint16_t>(value));
          break;
        }
      }
    }
  }
  if (const json::value* networks = Member(network_settings, "Networks");
      networks && networks->is_object()) {
    for (const auto& [name, network] : networks->get_object()) {
      if (info.ip = String(network, "IPAddress"); !info.ip.empty()) break;
    }
  }
  if (info.ip.empty()) info.ip = String(network_settings, "IPAddress");
  return info;
}

std::optional<std::vector<ContainerSummary>> DecodeContainers(std::string_view body) {
  const auto v = ParseJson(body);
  if (!v || !v->is_array()) return std::nullopt;
  std::vector<ContainerSummary> out;
  for (const json::value& c : v->get_array()) {
    ContainerSummary summary{String(c, "Id"), "", String(c, "Image"), String(c, "State"),
                             LabelsOf(c, "Labels")};
    if (const std::vector<std::string> names = Strings(c, "Names"); !names.empty()) {
      summary.name = names.front().starts_with('/') ? names.front().substr(1) : names.front();
    }
    out.push_back(std::move(summary));
  }
  return out;
}

std::optional<WaitAnswer> DecodeWait(std::string_view body) {
  const auto v = ParseJson(body);
  if (!v || Member(*v, "StatusCode") == nullptr) return std::nullopt;
  return WaitAnswer{static_cast<int>(Int(*v, "StatusCode")),
                    String(MemberOrNull(*v, "Error"), "Message")};
}

std::optional<ExecState> DecodeExecState(std::string_view body) {
  const auto v = ParseJson(body);
  if (!v) return std::nullopt;
  return ExecState{Bool(*v, "Running"), static_cast<int>(Int(*v, "ExitCode"))};
}

std::optional<BuildLine> DecodeBuildLine(std::string_view line) {
  const auto v = ParseJson(line);
  if (!v) return std::nullopt;
  return BuildLine{String(*v, "stream"), String(MemberOrNull(*v, "aux"), "ID"),
                   String(*v, "error")};
}

std::optional<ImageInfo> DecodeImage(std::string_view body) {
  const auto v = ParseJson(body);
  if (!v || !v->is_object()) return std::nullopt;
  const json::value& config = MemberOrNull(*v, "Config");
  ImageInfo info;
  info.id = String(*v, "Id");
  info.tags = Strings(*v, "RepoTags");
  info.entrypoint = Strings(config, "Entrypoint");
  info.cmd = Strings(config, "Cmd");
  info.labels = LabelsOf(config, "Labels");
  info.size = Int(*v, "Size");
  info.user = String(config, "User");
  info.working_dir = String(config, "WorkingDir");
  info.stop_signal = String(config, "StopSignal");
  info.env = Strings(config, "Env");
  info.healthcheck = Strings(MemberOrNull(config, "Healthcheck"), "Test");
  // Sets are objects whose keys are the members: {"1337/tcp": {}}.
  for (const auto& [field, out] : {std::pair{"ExposedPorts", &info.exposed_ports},
                                   std::pair{"Volumes", &info.volumes}}) {
    if (const json::value* set = Member(config, field); set && set->is_object()) {
      for (const auto& member : set->get_object()) out->emplace_back(member.key());
    }
  }
  return info;
}

std::optional<std::vector<ImageSummary>> DecodeImages(std::string_view body) {
  const auto v = ParseJson(body);
  if (!v || !v->is_array()) return std::nullopt;
  std::vector<ImageSummary> out;
  for (const json::value& i : v->get_array()) {
    ImageSummary summary{String(i, "Id"), {}, LabelsOf(i, "Labels"), Int(i, "Size")};
    // An untagged image has no RepoTags (null), or "<none>:<none>" from older engines.
    for (std::string& tag : Strings(i, "RepoTags")) {
      if (tag != "<none>:<none>") summary.tags.push_back(std::move(tag));
    }
    out.push_back(std::move(summary));
  }
  return out;
}

}  // namespace handoff::workload
