#pragma once

// A minimal tar writer for Docker build contexts: regular files, directories and symlinks
// in the POSIX ustar format, which the engine (Go's archive/tar) and GNU tar read. Names
// longer than ustar allows use the prefix field when they can be split at a '/', else a
// GNU long-name entry; long symlink targets use a GNU long-link entry.

#include <cstdint>
#include <string>
#include <string_view>

namespace handoff::workload {

// Builds a tar archive in memory. Entries appear in the order they are added.
class TarWriter {
 public:
  // Adds a regular file at `path` (relative, '/'-separated) holding `content`.
  void AddFile(std::string_view path, std::string_view content, std::uint32_t mode = 0644);

  // Adds a directory at `path`.
  void AddDirectory(std::string_view path, std::uint32_t mode = 0755);

  // Adds a symbolic link at `path` pointing to `target`.
  void AddSymlink(std::string_view path, std::string_view target);

  // Returns the archive with its end-of-archive blocks; the writer is empty afterwards.
  std::string Finish();

  // Returns the size in bytes of what was added so far.
  std::size_t size() const { return archive_.size(); }

 private:
  void AddEntry(std::string_view path, char type, std::uint32_t mode, std::string_view content,
                std::string_view link_target);

  std::string archive_;
};

}  // namespace handoff::workload
