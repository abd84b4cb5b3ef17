// Libraries opened on first use (src/dynlib): the clean error of one that is missing, the
// path an image needs, and the end of the process when a forwarder cannot find its function.

#include "dynlib/lazy_library.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace handoff::dynlib {
namespace {

using ::testing::HasSubstr;

TEST(LazyLibraryTest, AMissingLibraryIsAnErrorNamingItsPackageEveryTimeItIsAsked) {
  LazyLibrary missing("libhandoff-missing.so.7", "libhandoff-missing7");
  const std::string error = missing.Load();
  EXPECT_THAT(error, HasSubstr("cannot load libhandoff-missing.so.7"));
  EXPECT_THAT(error, HasSubstr("(Debian package libhandoff-missing7)"));
  EXPECT_EQ(missing.Load(), error);
  EXPECT_EQ(missing.Path(), "");
}

TEST(LazyLibraryTest, EachLibraryOpensAndNamesTheFileItCameFrom) {
  for (LazyLibrary* library : LazyLibraries()) {
    SCOPED_TRACE(library->soname());
    EXPECT_EQ(library->Load(), "");
    const std::string path = library->Path();
    EXPECT_TRUE(std::filesystem::path(path).is_absolute()) << path;
    EXPECT_EQ(std::filesystem::path(path).filename(), library->soname());
    EXPECT_TRUE(std::filesystem::exists(path)) << path;
  }
  EXPECT_NE(Libpq().Symbol("PQlibVersion"), nullptr);
  EXPECT_NE(Libcrypto().Symbol("OpenSSL_version"), nullptr);
}

TEST(LazyLibraryDeathTest, AForwarderWithoutItsLibraryOrFunctionEndsTheProcessSayingWhy) {
  EXPECT_DEATH(LazyLibrary("libhandoff-missing.so.7", "libhandoff-missing7").Symbol("f"),
               "handoff: cannot load libhandoff-missing.so.7 \\(Debian package "
               "libhandoff-missing7\\)");
  EXPECT_DEATH(Libcrypto().Symbol("handoff_no_such_function"),
               "handoff: libcrypto.so.3 has no handoff_no_such_function");
}

}  // namespace
}  // namespace handoff::dynlib
