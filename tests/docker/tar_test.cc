// The tar writer, checked by Debian's GNU tar: it lists and extracts what we write.

#include "workload/tar.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "blackbox/process.h"

namespace handoff::workload {
namespace {

using handoff::testing::MakeTempDir;
using handoff::testing::ReadFile;
using handoff::testing::RunProcess;
using ::testing::HasSubstr;

std::string WriteArchive(const std::string& dir, const std::string& archive) {
  const std::string path = dir + "/context.tar";
  std::ofstream(path, std::ios::binary) << archive;
  return path;
}

std::uint32_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(TarWriterTest, GnuTarListsAndExtractsFilesDirectoriesAndLinks) {
  const std::string binary("\0\x01\xff tail", 8);
  TarWriter tar;
  tar.AddDirectory("bin");
  tar.AddFile("bin/tool", "#!/bin/sh\necho hi\n", 0755);
  tar.AddFile("data/blob", binary, 0600);
  tar.AddFile("empty", "");
  tar.AddSymlink("bin/sh", "tool");
  tar.AddDirectory("tmp", 01777);
  const std::string archive = tar.Finish();
  EXPECT_EQ(archive.size() % 512, 0u);

  const std::string dir = MakeTempDir();
  const std::string path = WriteArchive(dir, archive);
  const auto listed = RunProcess({"/bin/tar", "-tvf", path});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("drwxr-xr-x root/root"));
  EXPECT_THAT(listed.out, HasSubstr("-rwxr-xr-x root/root        18 1970-01-01 00:00 bin/tool"));
  EXPECT_THAT(listed.out, HasSubstr("-rw------- root/root         8 1970-01-01 00:00 data/blob"));
  EXPECT_THAT(listed.out, HasSubstr("bin/sh -> tool"));
  EXPECT_THAT(listed.out, HasSubstr("drwxrwxrwt"));

  const std::string out = dir + "/out";
  std::filesystem::create_directory(out);
  const auto extracted = RunProcess({"/bin/tar", "-xf", path, "-C", out});
  ASSERT_EQ(extracted.exit_code, 0) << extracted.err;
  EXPECT_EQ(ReadFile(out + "/bin/tool"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(ModeOf(out + "/bin/tool"), 0755u);
  EXPECT_EQ(ReadFile(out + "/data/blob"), binary);
  EXPECT_EQ(ModeOf(out + "/data/blob"), 0600u);
  EXPECT_TRUE(std::filesystem::is_regular_file(out + "/empty"));
  EXPECT_EQ(std::filesystem::read_symlink(out + "/bin/sh"), "tool");
}

TEST(TarWriterTest, LongNamesAndLinkTargetsSurviveTheRoundTrip) {
  // 150 characters split at a '/' (the ustar prefix), 200 with no '/' to split at (a GNU
  // long name), and a link target over 100 characters (a GNU long link).
  const std::string split_name = std::string(90, 'a') + "/" + std::string(59, 'b');
  const std::string long_name = "dir/" + std::string(200, 'c');
  const std::string long_target = "../" + std::string(120, 't');
  TarWriter tar;
  tar.AddFile(split_name, "split", 0644);
  tar.AddFile(long_name, "long", 0644);
  tar.AddSymlink("link", long_target);
  tar.AddSymlink(std::string(60, 'p') + "/" + std::string(60, 'q'), long_target);
  tar.AddFile("after", "still in step");

  const std::string dir = MakeTempDir();
  const std::string path = WriteArchive(dir, tar.Finish());
  const auto listed = RunProcess({"/bin/tar", "-tf", path});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.out, split_name + "\n" + long_name + "\nlink\n" + std::string(60, 'p') + "/" +
                            std::string(60, 'q') + "\nafter\n");

  const std::string out = dir + "/out";
  std::filesystem::create_directory(out);
  const auto extracted = RunProcess({"/bin/tar", "-xf", path, "-C", out});
  ASSERT_EQ(extracted.exit_code, 0) << extracted.err;
  EXPECT_EQ(ReadFile(out + "/" + split_name), "split");
  EXPECT_EQ(ReadFile(out + "/" + long_name), "long");
  EXPECT_EQ(std::filesystem::read_symlink(out + "/link"), long_target);
  EXPECT_EQ(ReadFile(out + "/after"), "still in step");
}

TEST(TarWriterTest, AnEmptyArchiveIsValid) {
  TarWriter tar;
  const std::string archive = tar.Finish();
  EXPECT_EQ(archive, std::string(1024, '\0'));
  const std::string dir = MakeTempDir();
  const auto listed = RunProcess({"/bin/tar", "-tf", WriteArchive(dir, archive)});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.out, "");
}

}  // namespace
}  // namespace handoff::workload
