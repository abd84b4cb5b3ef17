#include "engine/server_log.h"

#include "event/event.h"
#include "json/json_writer.h"
#include "store/run_json.h"

namespace handoff {
namespace {

const char* LevelName(ServerLog::Level level) {
  switch (level) {
    case ServerLog::Level::kInfo:
      return "info";
    case ServerLog::Level::kWarn:
      return "warn";
    case ServerLog::Level::kError:
      return "error";
  }
  return "info";
}

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

}  // namespace

void ServerLog::Write(Level level, std::string_view message, const Fields& fields) {
  std::string time;
  store::AppendTimeJson(time, NowNs());
  std::string line;
  if (json_) {
    line += "{\"time\":";
    line += time;
    line += ",\"level\":\"";
    line += LevelName(level);
    line += "\",\"msg\":";
    AppendJsonString(line, message);
    for (const auto& [key, value] : fields) {
      line += ',';
      AppendJsonString(line, key);
      line += ':';
      AppendJsonString(line, value);
    }
    line += "}\n";
  } else {
    line.append(time, 1, time.size() - 2);  // without the quotes
    line += ' ';
    for (const char* p = LevelName(level); *p != '\0'; ++p) line += static_cast<char>(*p - 32);
    line += ' ';
    line += message;
    for (const auto& [key, value] : fields) {
      line += ' ';
      line += key;
      line += '=';
      if (NeedsQuotes(value)) {
        AppendJsonString(line, value);
      } else {
        line += value;
      }
    }
    line += '\n';
  }
  std::lock_guard lock(mu_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace handoff
