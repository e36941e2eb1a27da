// lib/config/relay_password.h — the password of relay_auth_user, read from
// relay_password_file.
//
// qmgr reads it as root before it drops privileges, so the file may belong
// to root alone; postern check reads it the same way to report a problem
// before qmgr meets it. The file must be a regular file that neither its
// group nor others may read, write or execute (mode 0600 or stricter): a
// password that others can read is no secret. Its first line, without the
// line end (LF, CR LF or CR), is the password; anything after it is
// ignored. Never logs the password or puts it in an error; the copy read
// from the file is wiped once the password is taken out of it.
#pragma once

#include <string>

#include "lib/base/status.h"

namespace postern {

// The password, or an error naming the file and the reason, e.g.
// "relay_password_file /etc/postern/relay.pw has mode 0644, readable by
// others: chmod 600 /etc/postern/relay.pw".
Result<std::string> ReadRelayPassword(const std::string& path);

}  // namespace postern
