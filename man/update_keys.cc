// man/update_keys.cc — rewrites the generated key list of postern.conf(5).
//
// Replaces the lines between `.\" BEGIN KEYS` and `.\" END KEYS` of the page
// named on the command line with the rendering of lib/config/config_keys.cc. Run it
// after changing the key table and commit the page; the unit test
// ConfigManPage fails until then. It never touches the rest of the page.
//
//   g++ -std=c++20 -I. -o /tmp/update_keys man/update_keys.cc lib/config/config_man.cc
//       lib/config/config_keys.cc lib/net/network.cc lib/base/log.cc   (one command line)
//   /tmp/update_keys man/postern.conf.5
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "lib/config/config_man.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: update_keys man/postern.conf.5\n";
    return 2;
  }
  std::string path = argv[1];
  std::ifstream in(path);
  if (!in) {
    std::perror(("update_keys: cannot open " + path).c_str());
    return 1;
  }
  std::stringstream page;
  page << in.rdbuf();
  postern::Result<std::string> updated = postern::SpliceKeysIntoManPage(page.str());
  if (!updated.ok()) {
    std::cerr << "update_keys: " << path << ": " << updated.status().message() << "\n";
    return 1;
  }
  if (*updated == page.str()) {
    std::cout << path << " is up to date\n";
    return 0;
  }
  std::string temporary = path + ".tmp";
  std::ofstream out(temporary);
  out << *updated;
  out.close();
  if (!out || std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::perror(("update_keys: cannot write " + path).c_str());
    return 1;
  }
  std::cout << path << " updated\n";
  return 0;
}
