#include "workload/tar.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

namespace handoff::workload {
namespace {

constexpr std::size_t kBlock = 512;

// Field offsets and sizes of a ustar header block.
struct Field {
  std::size_t offset;
  std::size_t size;
};
constexpr Field kName{0, 100}, kMode{100, 8}, kUid{108, 8}, kGid{116, 8}, kSize{124, 12},
    kMtime{136, 12}, kChecksum{148, 8}, kType{156, 1}, kLinkName{157, 100}, kMagic{257, 8},
    kUname{265, 32}, kGname{297, 32}, kPrefix{345, 155};

using Block = std::array<char, kBlock>;

void PutString(Block& block, Field field, std::string_view value) {
  std::memcpy(block.data() + field.offset, value.data(), std::min(value.size(), field.size));
}

// Writes `value` as zero-padded octal with a NUL terminator, or in GNU base-256 when it does
// not fit (only sizes of 8 GiB and more).
void PutNumber(Block& block, Field field, std::uint64_t value) {
  char* out = block.data() + field.offset;
  const std::size_t digits = field.size - 1;
  if (digits * 3 >= 64 || value < (std::uint64_t{1} << (digits * 3))) {
    for (std::size_t i = digits; i-- > 0; value >>= 3)
      out[i] = static_cast<char>('0' + (value & 7));
    out[digits] = '\0';
    return;
  }
  std::memset(out, 0, field.size);
  out[0] = static_cast<char>(0x80);
  for (std::size_t i = field.size; i-- > 1 && value != 0; value >>= 8) {
    out[i] = static_cast<char>(value & 0xff);
  }
}

// Splits `path` into a ustar prefix and name, if it fits that way.
bool SplitUstarName(std::string_view path, std::string_view* prefix, std::string_view* name) {
  if (path.size() <= kName.size) {
    *prefix = {};
    *name = path;
    return true;
  }
  for (std::size_t slash = path.find('/'); slash != std::string_view::npos;
       slash = path.find('/', slash + 1)) {
    if (slash > kPrefix.size) break;
    const std::size_t rest = path.size() - slash - 1;
    if (rest > 0 && rest <= kName.size) {
      *prefix = path.substr(0, slash);
      *name = path.substr(slash + 1);
      return true;
    }
  }
  return false;
}

void AppendBlockAndData(std::string& archive, Block& header, std::string_view data) {
  std::memset(header.data() + kChecksum.offset, ' ', kChecksum.size);
  unsigned checksum = 0;
  for (const char c : header) checksum += static_cast<unsigned char>(c);
  PutNumber(header, Field{kChecksum.offset, 7}, checksum);  // 6 digits, NUL, then the space
  archive.append(header.data(), header.size());
  archive.append(data);
  archive.append((kBlock - data.size() % kBlock) % kBlock, '\0');
}

Block NewHeader(char type, std::uint32_t mode, std::uint64_t size, bool gnu) {
  Block header{};
  PutNumber(header, kMode, mode);
  PutNumber(header, kUid, 0);
  PutNumber(header, kGid, 0);
  PutNumber(header, kSize, size);
  PutNumber(header, kMtime, 0);  // fixed, so equal contexts give equal archives
  header[kType.offset] = type;
  // ustar: "ustar\0" "00"; GNU (needed beside long-name entries): "ustar " " \0".
  PutString(header, kMagic,
            gnu ? std::string_view("ustar  \0", 8)
                : std::string_view("ustar\0"
                                   "00",
                                   8));
  PutString(header, kUname, "root");
  PutString(header, kGname, "root");
  return header;
}

}  // namespace

void TarWriter::AddFile(std::string_view path, std::string_view content, std::uint32_t mode) {
  AddEntry(path, '0', mode, content, {});
}

void TarWriter::AddDirectory(std::string_view path, std::uint32_t mode) {
  std::string name(path);
  if (!name.ends_with('/')) name += '/';
  AddEntry(name, '5', mode, {}, {});
}

void TarWriter::AddSymlink(std::string_view path, std::string_view target) {
  AddEntry(path, '2', 0777, {}, target);
}

void TarWriter::AddEntry(std::string_view path, char type, std::uint32_t mode,
                         std::string_view content, std::string_view link_target) {
  std::string_view prefix;
  std::string_view name;
  const bool long_link = link_target.size() > kLinkName.size;
  // A GNU header has no prefix field: beside a long link, a name that needs one is long too.
  const bool long_name = !SplitUstarName(path, &prefix, &name) || (long_link && !prefix.empty());
  const bool gnu = long_name || long_link;
  // GNU long names: an entry named ././@LongLink whose data is the full NUL-terminated
  // name, then the real header with a truncated one.
  const auto add_long = [&](char long_type, std::string_view value) {
    std::string data(value);
    data += '\0';
    Block header = NewHeader(long_type, 0, data.size(), true);
    PutString(header, kName, "././@LongLink");
    AppendBlockAndData(archive_, header, data);
  };
  if (long_name) {
    add_long('L', path);
    prefix = {};
    name = path.substr(0, kName.size);
  }
  if (long_link) add_long('K', link_target);

  Block header = NewHeader(type, mode, content.size(), gnu);
  PutString(header, kName, name);
  PutString(header, kPrefix, prefix);
  PutString(header, kLinkName, link_target.substr(0, kLinkName.size));
  AppendBlockAndData(archive_, header, content);
}

std::string TarWriter::Finish() {
  archive_.append(2 * kBlock, '\0');
  return std::exchange(archive_, std::string());
}

}  // namespace handoff::workload
