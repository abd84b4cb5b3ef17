#include "report/attachment_files.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "event/attachment.h"

namespace handoff {

std::string AttachmentPath(std::string_view dir, std::string_view suite, std::string_view test,
                           int attempt, std::string_view name) {
  std::filesystem::path path(dir);
  path /= PathComponent(suite);
  path /= PathComponent(test);
  path /= fmt::format("attempt-{}", attempt);
  // The name was checked (CheckAttachmentName): a file name, never "." or "..".
  path /= std::string(name);
  return path.string();
}

std::string AttachmentNote(std::string_view name, std::string_view media_type, std::size_t size,
                           std::string_view path) {
  std::string note = fmt::format("attachment {} ({}, {} bytes)", name, media_type, size);
  if (!path.empty()) fmt::format_to(std::back_inserter(note), ": {}", path);
  return note;
}

void AttachmentFiles::OnEvent(const Event& event) {
  if (event.kind != EventKind::kAttachment) return;
  const std::filesystem::path path(
      AttachmentPath(dir_, event.suite, event.test, event.attempt, event.key));
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (!ec) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(event.text.data(), static_cast<std::streamsize>(event.text.size()));
    out.close();
    if (out) {
      ++written_;
      return;
    }
    ec = std::make_error_code(std::errc::io_error);
  }
  std::fprintf(warnings_, "handoff: warning: cannot write attachment %s: %s\n",
               path.string().c_str(), ec.message().c_str());
}

}  // namespace handoff
