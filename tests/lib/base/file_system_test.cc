// tests/lib/base/file_system_test.cc — WriteFileAtomically and ReadFile
// (lib/base/file_system.h), and master's pid file (lib/base/pid_file.h),
// written through a FaultyFileSystem that fails like a full disk.
#define BOOST_TEST_DYN_LINK
#include "lib/base/file_system.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "lib/base/pid_file.h"
#include "tests/lib/base/faulty_file_system.h"
#include "tests/lib/base/temp_dir.h"

namespace postern {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void Spit(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(file_system)

BOOST_AUTO_TEST_CASE(write_file_atomically_replaces_the_file_with_the_mode_given) {
  TempDir dir("file_system_test");
  const std::string path = dir.path() + "/blocks";
  Spit(path, "old\n");
  Spit(path + ".tmp", "left by a crash");
  PosixFileSystem fs;
  Status s = WriteFileAtomically(&fs, path, "192.0.2.1 permanent\n", 0600);
  BOOST_TEST_REQUIRE(s.ok(), s.message());
  BOOST_TEST(Slurp(path) == "192.0.2.1 permanent\n");
  struct stat st;
  BOOST_TEST_REQUIRE(stat(path.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0600u);
  BOOST_TEST(!std::filesystem::exists(path + ".tmp"));
}

BOOST_AUTO_TEST_CASE(a_failed_write_keeps_the_old_file_and_says_why) {
  TempDir dir("file_system_test");
  const std::string path = dir.path() + "/blocks";
  Spit(path, "old\n");
  FaultyFileSystem fs;
  fs.fail_appends = true;
  Status s = WriteFileAtomically(&fs, path, "new\n", 0600);
  BOOST_TEST(!s.ok());
  BOOST_TEST(s.is_resource_exhausted());
  BOOST_TEST(s.message() == "write: No space left on device (injected)");
  BOOST_TEST(Slurp(path) == "old\n");
  BOOST_TEST(!std::filesystem::exists(path + ".tmp"));
}

BOOST_AUTO_TEST_CASE(a_failed_sync_is_not_renamed_into_place) {
  TempDir dir("file_system_test");
  const std::string path = dir.path() + "/blocks";
  FaultyFileSystem fs;
  fs.fail_file_sync = true;
  Status s = WriteFileAtomically(&fs, path, "new\n", 0600);
  BOOST_TEST(s.message() == "fsync: Input/output error (injected)");
  BOOST_TEST(!std::filesystem::exists(path));
  BOOST_TEST(!std::filesystem::exists(path + ".tmp"));
}

BOOST_AUTO_TEST_CASE(read_file_tells_a_missing_file_from_an_empty_one) {
  TempDir dir("file_system_test");
  PosixFileSystem fs;
  Result<std::optional<std::string>> missing = fs.ReadFile(dir.path() + "/none");
  BOOST_TEST_REQUIRE(missing.ok());
  BOOST_TEST(!missing->has_value());
  Spit(dir.path() + "/empty", "");
  Result<std::optional<std::string>> empty = fs.ReadFile(dir.path() + "/empty");
  BOOST_TEST_REQUIRE(empty.ok());
  BOOST_TEST((*empty == std::optional<std::string>("")));
  Result<std::optional<std::string>> directory = fs.ReadFile(dir.path());
  BOOST_TEST(!directory.ok());
  BOOST_TEST(directory.status().message() == "read " + dir.path() + ": Is a directory");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pid_file)

BOOST_AUTO_TEST_CASE(master_writes_its_pid) {
  TempDir dir("file_system_test");
  PosixFileSystem fs;
  Status s = WriteMasterPidFile(&fs, dir.path(), 4242);
  BOOST_TEST_REQUIRE(s.ok(), s.message());
  BOOST_TEST(Slurp(dir.path() + "/master.pid") == "4242\n");
}

BOOST_AUTO_TEST_CASE(a_failing_pid_file_write_is_reported_with_the_file_and_the_reason) {
  TempDir dir("file_system_test");
  FaultyFileSystem fs;
  fs.fail_appends = true;
  Status s = WriteMasterPidFile(&fs, dir.path(), 4242);
  BOOST_TEST(!s.ok());
  BOOST_TEST(s.message() == "cannot write the pid file " + dir.path() +
                                "/master.pid: write: No space left on device (injected)");
  BOOST_TEST(!std::filesystem::exists(dir.path() + "/master.pid"));
}

BOOST_AUTO_TEST_CASE(a_live_master_in_the_pid_file_is_not_overwritten) {
  TempDir dir("file_system_test");
  const std::string path = dir.path() + "/master.pid";
  const std::string self = std::to_string(getpid()) + "\n";
  Spit(path, self);
  PosixFileSystem fs;
  Status s = WriteMasterPidFile(&fs, dir.path(), 4242);
  BOOST_TEST(s.message() == "postern is already running (master pid " + std::to_string(getpid()) +
                                " in " + path + ")");
  BOOST_TEST(Slurp(path) == self);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
