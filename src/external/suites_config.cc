#include "external/suites_config.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "duration/duration.h"
#include "external/external_runner.h"
#include "handoff/external.h"

namespace handoff::external {
namespace {

namespace json = boost::json;

Error Invalid(std::string message) { return Error{ErrorCode::kInvalid, std::move(message)}; }

Result<std::string> String(const json::value& v, const std::string& what) {
  if (!v.is_string()) return Invalid(what + " must be a string");
  return std::string(v.as_string());
}

Result<std::vector<std::string>> Strings(const json::value& v, const std::string& what) {
  if (!v.is_array()) return Invalid(what + " must be a list of strings");
  std::vector<std::string> out;
  for (const json::value& item : v.as_array()) {
    if (!item.is_string()) return Invalid(what + " must be a list of strings");
    out.emplace_back(item.as_string());
  }
  return out;
}

Result<std::map<std::string, std::string>> StringMap(const json::value& v, const std::string& what) {
  if (!v.is_object()) return Invalid(what + " must be an object of strings");
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : v.as_object()) {
    if (!value.is_string()) return Invalid(what + " must be an object of strings");
    out.emplace(std::string(key), std::string(value.as_string()));
  }
  return out;
}

Result<Suite> ParseSuite(const json::object& object, const std::string& what,
                         const std::string& base_dir) {
  ExternalSuite suite;
  for (const auto& [key_view, value] : object) {
    const std::string key(key_view);
    const std::string field = what + ": \"" + key + "\"";
    auto take = [&](auto result, auto& into) -> Result<void> {
      if (!result.ok()) return std::move(result).error();
      into = std::move(*result);
      return {};
    };
    Result<void> done;
    if (key == "name") {
      done = take(String(value, field), suite.name);
    } else if (key == "namespace") {
      done = take(String(value, field), suite.namespace_name);
    } else if (key == "description") {
      done = take(String(value, field), suite.description);
    } else if (key == "labels") {
      done = take(StringMap(value, field), suite.labels);
    } else if (key == "command") {
      done = take(Strings(value, field), suite.command);
    } else if (key == "working_dir") {
      done = take(String(value, field), suite.working_dir);
    } else if (key == "env") {
      done = take(StringMap(value, field), suite.env);
    } else if (key == "report_file") {
      done = take(String(value, field), suite.report_file);
    } else if (key == "list_command") {
      done = take(Strings(value, field), suite.list_command);
    } else if (key == "secret_params") {
      done = take(Strings(value, field), suite.secret_params);
    } else if (key == "format") {
      std::optional<ReportFormat> format =
          value.is_string() ? ParseReportFormat(value.as_string()) : std::nullopt;
      if (!format) return Invalid(field + " must be go-test-json, junit or tap");
      suite.format = *format;
    } else if (key == "tool") {
      std::optional<ExternalTool> tool =
          value.is_string() ? ParseExternalTool(value.as_string()) : std::nullopt;
      if (!tool) return Invalid(field + " must be go, pytest, node or other");
      suite.tool = *tool;
    } else if (key == "max_attempts") {
      if (!value.is_int64() || value.as_int64() < 1 || value.as_int64() > 100) {
        return Invalid(field + " must be a whole number from 1 to 100");
      }
      suite.max_attempts = static_cast<int>(value.as_int64());
    } else if (key == "timeout") {
      std::optional<std::chrono::nanoseconds> d =
          value.is_string() ? ParseDuration(std::string(value.as_string())) : std::nullopt;
      if (!d || d->count() <= 0) return Invalid(field + " must be a duration such as \"10m\"");
      suite.timeout = std::chrono::ceil<std::chrono::milliseconds>(*d);
    } else if (key == "concurrency") {
      if (value == "queue") {
        suite.concurrency = Suite::Concurrency::kQueue;
      } else if (value == "skip") {
        suite.concurrency = Suite::Concurrency::kSkip;
      } else {
        return Invalid(field + " must be queue or skip");
      }
    } else {
      return Invalid(what + ": unknown key \"" + key +
                     "\" (name, namespace, description, labels, command, working_dir, env, "
                     "format, tool, report_file, list_command, max_attempts, timeout, "
                     "concurrency, secret_params)");
    }
    if (!done.ok()) return std::move(done).error();
  }
  if (suite.name.empty()) return Invalid(what + ": \"name\" is required");
  if (suite.name.find_first_of("/ \t\n") != std::string::npos) {
    return Invalid(what + ": \"name\" must not hold '/' or spaces (it is part of the API's URLs)");
  }
  for (const auto& [key, value] : suite.env) {
    if (key.empty() || key.find_first_of("=\0") != std::string::npos) {
      return Invalid(what + ": \"env\": \"" + key + "\" is not a variable name");
    }
  }
  if (std::any_of(suite.secret_params.begin(), suite.secret_params.end(),
                  [](const std::string& p) { return p.empty(); })) {
    return Invalid(what + ": \"secret_params\" has an empty name");
  }
  if (!suite.list_command.empty() && suite.list_command[0].empty()) {
    return Invalid(what + ": \"list_command\" must start with a program");
  }
  if (suite.command.empty() || suite.command[0].empty()) {
    return Invalid(what + ": \"command\" is required (a list: the program and its arguments)");
  }
  if (suite.format == ReportFormat::kJUnitXml && suite.report_file.empty()) {
    return Invalid(what + ": \"report_file\" is required with \"format\": \"junit\"");
  }
  // Relative to the file's directory, which is also where a command without one runs (its
  // ./program and its report file are found there).
  if (suite.working_dir.empty()) {
    suite.working_dir = base_dir;
  } else if (suite.working_dir[0] != '/' && !base_dir.empty()) {
    suite.working_dir = (std::filesystem::path(base_dir) / suite.working_dir).lexically_normal().string();
  }
  return MakeSuite(std::move(suite));
}

}  // namespace

Result<std::vector<Suite>> ParseSuitesConfig(std::string_view text, std::string_view origin,
                                             const std::string& base_dir) {
  const std::string where(origin);
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec) return Invalid(where + ": not valid JSON: " + ec.message());
  if (!doc.is_object()) return Invalid(where + ": must be a JSON object with \"suites\"");
  for (const auto& [key, value] : doc.as_object()) {
    if (key != "suites") return Invalid(where + ": unknown key \"" + std::string(key) + "\" (suites)");
  }
  const json::value* list = doc.as_object().if_contains("suites");
  if (list == nullptr || !list->is_array()) return Invalid(where + ": \"suites\" must be a list");
  std::vector<Suite> suites;
  std::set<std::string> names;
  int index = 0;
  for (const json::value& entry : list->as_array()) {
    ++index;
    const std::string what = where + ": suite " + std::to_string(index);
    if (!entry.is_object()) return Invalid(what + " must be an object");
    Result<Suite> suite = ParseSuite(entry.as_object(), what, base_dir);
    if (!suite.ok()) return std::move(suite).error();
    if (!names.insert(suite->name).second) {
      return Invalid(fmt::format("{}: suite \"{}\" is declared twice", where, suite->name));
    }
    suites.push_back(std::move(*suite));
  }
  return suites;
}

Result<std::vector<Suite>> LoadSuitesConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Invalid(fmt::format("--suites-config: cannot read {}", path));
  std::ostringstream text;
  text << in.rdbuf();
  const std::string base = std::filesystem::absolute(path).parent_path().string();
  return ParseSuitesConfig(text.str(), path, base);
}

}  // namespace handoff::external
