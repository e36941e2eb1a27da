// tests/lib/base/temp_dir.h — a temporary directory for one unit test.
//
// Made under /tmp with the test's name in it, so that a leftover says
// whose it is, and removed with everything in it when the object goes.
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>
#include <system_error>

namespace postern {

class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    std::string pattern = "/tmp/" + name + ".XXXXXX";
    BOOST_REQUIRE_MESSAGE(mkdtemp(pattern.data()) != nullptr,
                          "mkdtemp " << pattern << ": " << strerror(errno));
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // A path inside the directory.
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace postern
