// lib/config/install_dirs.cc — see lib/config/install_dirs.h.
#include "lib/config/install_dirs.h"

#include <cstdlib>

namespace postern {

std::string DaemonDirectory(const Config& config) {
  const char* override_dir = getenv("POSTERN_DAEMON_DIR");
  if (override_dir != nullptr && *override_dir != '\0') return override_dir;
  return config.daemon_directory;
}

}  // namespace postern
