#include "event/located.h"

namespace handoff {

std::string_view BaseName(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string Located(std::string_view message, std::string_view file, int line) {
  if (file.empty()) return std::string(message);
  std::string out(BaseName(file));
  out += ':';
  out += std::to_string(line);
  out += ": ";
  out += message;
  return out;
}

}  // namespace handoff
