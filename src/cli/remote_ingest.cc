#include "cli/remote_ingest.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>

#include "cli/remote_answers.h"
#include "ingest/report_format.h"

namespace handoff {
namespace {

namespace json = boost::json;

// A long wait: the server reads and stores the whole report before it answers.
constexpr std::chrono::seconds kIngestTimeout{120};

struct ReportFile {
  std::string name;  // as the server's errors name it
  std::string content_type;
  std::string content;
};

// The media type of a report file by its name, when --format does not say.
std::string MediaTypeOfFile(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".xml") return ingest::ReportMediaType(ingest::ReportFormat::kJUnitXml);
  if (ext == ".json" || ext == ".jsonl" || ext == ".ndjson") {
    return ingest::ReportMediaType(ingest::ReportFormat::kGoTestJson);
  }
  if (ext == ".tap") return ingest::ReportMediaType(ingest::ReportFormat::kTap);
  return "application/octet-stream";  // the server tells it from the content
}

std::optional<std::string> ReadAll(const std::string& path, std::string* error) {
  std::ostringstream out;
  if (path == "-") {
    out << std::cin.rdbuf();
    return out.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = fmt::format("cannot read {}", path);
    return std::nullopt;
  }
  out << in.rdbuf();
  if (in.bad()) {
    *error = fmt::format("cannot read {}", path);
    return std::nullopt;
  }
  return out.str();
}

// A file name as a quoted Content-Disposition parameter.
std::string QuotedFileName(const std::string& name) {
  std::string out = "\"";
  for (const char c : name) {
    if (static_cast<unsigned char>(c) < 0x20) continue;
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

// The multipart/mixed body of several reports, and its Content-Type.
std::pair<std::string, std::string> MultipartBody(const std::vector<ReportFile>& files) {
  std::random_device random;
  std::string boundary;
  do {
    boundary = fmt::format("handoff-{:08x}{:08x}{:08x}", random(), random(), random());
  } while (std::any_of(files.begin(), files.end(), [&](const ReportFile& f) {
    return f.content.find(boundary) != std::string::npos;
  }));
  std::string body;
  for (const ReportFile& f : files) {
    body += fmt::format("--{}\r\nContent-Type: {}\r\nContent-Disposition: attachment; "
                        "filename={}\r\n\r\n",
                        boundary, f.content_type, QuotedFileName(f.name));
    body += f.content;
    body += "\r\n";
  }
  body += fmt::format("--{}--\r\n", boundary);
  return {std::move(body), "multipart/mixed; boundary=" + boundary};
}

std::int64_t IntOf(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->as_int64() : 0;
}

std::string StrOf(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

void AddRemoteIngestOptions(CLI::App* command, RemoteIngest& o) {
  command->add_option("--suite", o.suite, "The suite the run is of (created if the server has none of that name)")
      ->required();
  command->add_option("--reference", o.reference, "A commit, release or ticket to record");
  command->add_option("--environment", o.environment,
                      "The environment the tests ran in (default: the server's)");
  command->add_option("--initiated-by", o.initiated_by, "Who sends it (default: $USER)");
  command->add_option("--format", o.format,
                      "go-test-json, junit or tap (default: by each file's name, else told from its "
                      "content)")
      ->check(CLI::IsMember({"go-test-json", "junit", "tap"}));
  command->add_option("files", o.files, "The report files, one run for all of them; - reads standard input")
      ->required();
}

int RunRemoteIngest(http::Client& client, const std::string& base, const std::string& server,
                    const RemoteIngest& o) {
  if (std::count(o.files.begin(), o.files.end(), "-") > 1) {
    return FailRemote("ingest: standard input (-) may be given once");
  }
  std::vector<ReportFile> files;
  for (const std::string& path : o.files) {
    std::string error;
    std::optional<std::string> content = ReadAll(path, &error);
    if (!content) return FailRemote("ingest: " + error);
    const std::optional<ingest::ReportFormat> format = ingest::ParseReportFormatName(o.format);
    files.push_back(ReportFile{path == "-" ? "stdin" : std::filesystem::path(path).filename().string(),
                               format ? ingest::ReportMediaType(*format) : MediaTypeOfFile(path),
                               std::move(*content)});
  }
  std::string body, content_type;
  if (files.size() == 1) {
    body = std::move(files.front().content);
    content_type = files.front().content_type;
  } else {
    std::tie(body, content_type) = MultipartBody(files);
  }

  std::string target = fmt::format("{}/api/v1/suites/{}/ingest", base, PercentEncode(o.suite));
  std::string who = o.initiated_by;
  if (who.empty() && std::getenv("USER") != nullptr) who = std::getenv("USER");
  char separator = '?';
  for (const auto& [name, value] : {std::pair<const char*, const std::string&>{"reference", o.reference},
                                    {"environment", o.environment},
                                    {"initiated_by", who}}) {
    if (value.empty()) continue;
    target += fmt::format("{}{}={}", separator, name, PercentEncode(value));
    separator = '&';
  }
  http::ClientResult r =
      client.Request("POST", target, body, {{"Content-Type", content_type}}, kIngestTimeout);
  if (!r.ok()) return FailRemote(fmt::format("cannot reach {}: {}", server, r.error));
  if (r.status != 201) {
    // The server names the file of a refused report when there are several; of one, it is
    // the body.
    const bool named = files.size() > 1 || r.status != 400;
    return FailRemote((named ? "" : files.front().name + ": ") + ServerErrorMessage(r));
  }

  json::error_code ec;
  const json::value v = json::parse(r.body, ec);
  if (ec || !v.is_object()) return FailRemote("the server's answer is not a run: " + r.body);
  const json::object& run = v.as_object();
  const std::int64_t id = IntOf(run, "id");
  std::string totals;
  if (const json::value* t = run.if_contains("totals"); t != nullptr && t->is_object()) {
    const json::object& c = t->as_object();
    totals = fmt::format(": {} tests, {} passed, {} failed, {} skipped", IntOf(c, "total"),
                         IntOf(c, "passed"), IntOf(c, "failed"), IntOf(c, "skipped"));
    if (IntOf(c, "flaky") > 0) totals += fmt::format(", {} flaky", IntOf(c, "flaky"));
  }
  std::printf("run %lld of %s %s%s\n%s/runs/%lld\n", static_cast<long long>(id),
              StrOf(run, "suite").c_str(), StrOf(run, "status").c_str(), totals.c_str(),
              server.c_str(), static_cast<long long>(id));
  PrintRunChanges(r.body);
  return 0;
}

}  // namespace handoff
