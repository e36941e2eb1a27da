// lib/base/privileges.cc — see lib/base/privileges.h.
#include "lib/base/privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "lib/base/log.h"
#include "lib/config/config.h"

namespace postern {
Result<UserIdentity> LookUpUser(const std::string& name, const std::string& config_key) {
  struct passwd pw;
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  int rc = getpwnam_r(name.c_str(), &pw, buffer.data(), buffer.size(), &found);
  if (rc != 0) return Status::FromErrno("cannot look up user \"" + name + "\"", rc);
  if (found == nullptr)
    return Status::Error("user \"" + name + "\" (" + config_key +
                         ") does not exist: create it (adduser --system " + name + ") or set " +
                         config_key);
  return UserIdentity{name, pw.pw_uid, pw.pw_gid};
}

bool RunningAsRoot() { return geteuid() == 0; }

Status DropPrivileges(const UserIdentity& user, const std::string& chroot_dir) {
  if (!RunningAsRoot()) return Status::Ok();
  if (setgroups(1, &user.gid) != 0) return Status::FromErrno("setgroups for " + user.name, errno);
  if (setresgid(user.gid, user.gid, user.gid) != 0)
    return Status::FromErrno("setresgid for " + user.name, errno);
  if (!chroot_dir.empty()) {
    if (chroot(chroot_dir.c_str()) != 0) return Status::FromErrno("chroot to " + chroot_dir, errno);
    if (chdir("/") != 0) return Status::FromErrno("chdir to / inside " + chroot_dir, errno);
  }
  if (setresuid(user.uid, user.uid, user.uid) != 0)
    return Status::FromErrno("setresuid for " + user.name, errno);
  uid_t ruid, euid, suid;
  if (getresuid(&ruid, &euid, &suid) != 0) return Status::FromErrno("getresuid", errno);
  if (ruid != user.uid || euid != user.uid || suid != user.uid)
    return Status::Error("uid drop to " + user.name + " did not take effect");
  if (user.uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
    return Status::Error("could regain root after dropping to " + user.name);
  return Status::Ok();
}

Result<Jail> SmtpdJail(const Config& config) {
  if (!RunningAsRoot()) return Jail{};
  Result<UserIdentity> user = LookUpUser(config.smtpd_user, "smtpd_user");
  if (!user.ok()) return user.status();
#if defined(__SANITIZE_ADDRESS__)
  LOG_INFO("sanitizer build: not chrooted into %s/empty, so that LeakSanitizer can read /proc",
           config.run_directory.c_str());
  return Jail{*user, ""};
#else
  return Jail{*user, config.run_directory + "/empty"};
#endif
}

Status EnterJail(const Jail& jail) {
  tzset();
  if (Status s = DropPrivileges(jail.user, jail.directory); !s.ok())
    return Status::Error("cannot drop privileges: " + s.message());
  return Status::Ok();
}

Status EnsureDirectory(const std::string& path, mode_t mode, uid_t owner, gid_t group) {
  if (path.empty()) return Status::Error("empty directory path");
  size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    std::string parent = path.substr(0, slash);
    struct stat st;
    if (stat(parent.c_str(), &st) != 0) {
      if (Status s = EnsureDirectory(parent, 0755, getuid(), getgid()); !s.ok()) return s;
    }
  }
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
    return Status::FromErrno("mkdir " + path, errno);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Status::FromErrno("stat " + path, errno);
  if (!S_ISDIR(st.st_mode)) return Status::Error(path + " exists and is not a directory");
  if (chmod(path.c_str(), mode) != 0) return Status::FromErrno("chmod " + path, errno);
  if (RunningAsRoot() && chown(path.c_str(), owner, group) != 0)
    return Status::FromErrno("chown " + path, errno);
  return Status::Ok();
}

}  // namespace postern
