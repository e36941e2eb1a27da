// lib/base/privileges.h — dropping root, in the one order that cannot be undone.
//
// Order (as OpenSMTPD does it): look up the user, set supplementary groups
// and gid, chroot and chdir("/") when asked, set uid with setresuid, then
// verify that neither the real, effective nor saved uid can return to root.
// A process not started as root keeps its identity: DropPrivileges() then
// only chroots if it can, and says so.
#pragma once

#include <sys/types.h>

#include <string>

#include "lib/base/status.h"

namespace postern {

struct Config;

struct UserIdentity {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Looks a user up in the password database; a missing user is an error
// naming it and the config key that asked for it.
Result<UserIdentity> LookUpUser(const std::string& name, const std::string& config_key);

// True when running with effective uid 0.
bool RunningAsRoot();

// Becomes `user` (when root), chrooted into chroot_dir when it is non-empty.
Status DropPrivileges(const UserIdentity& user, const std::string& chroot_dir);

// Where a process that parses network input lives (smtpd, metricsd): as
// smtpd_user, chrooted into run_directory/empty (which master makes: root's,
// mode 0555, empty). Looked up with SmtpdJail() while root, entered with
// EnterJail() once the process has opened what it needs; from then on it can
// read no file of the system.
//
// Except in a sanitizer build (configure --enable-sanitizers): LeakSanitizer
// reads /proc/self/task when the process exits, which the chroot hides, and
// then checks nothing. Such a build keeps the user but not the chroot, so its
// test runs check smtpd and metricsd for leaks, and says so in the log;
// release builds always chroot.
struct Jail {
  UserIdentity user;
  std::string directory;  // empty when not started as root: nothing to enter
};

// The jail of config's smtpd_user; an error when that user does not exist.
Result<Jail> SmtpdJail(const Config& config);

// Reads the time zone while /etc/localtime is still in reach (log lines and
// Received: headers keep local time), then DropPrivileges into the jail.
Status EnterJail(const Jail& jail);

// Creates a directory (and its parents) if missing, then sets its mode and,
// when root, its owner. Fails if the path exists and is not a directory.
Status EnsureDirectory(const std::string& path, mode_t mode, uid_t owner, gid_t group);

}  // namespace postern
