// lib/sasl/auth_realm.h — the Cyrus SASL realm postern's users live in.
//
// Users are stored in the sasldb as user@realm, and a logon is looked up in
// one realm. With auth_realm set that is the realm; without it, the realm is
// fixed by the first `postern user add` (myhostname at that moment) and read
// back from the sasldb afterwards, so renaming the host does not lock every
// user out.
#pragma once

#include <string>
#include <vector>

#include "lib/base/status.h"
#include "lib/config/config.h"

namespace postern {

// configured (auth_realm) when set; otherwise the one realm the sasldb holds
// users in (stored_realms), or myhostname when it holds none. Several stored
// realms: myhostname when it is one of them, else an error naming them.
Result<std::string> ChooseAuthRealm(const std::string& configured, const std::string& myhostname,
                                    const std::vector<std::string>& stored_realms);

// ChooseAuthRealm over config auth_realm, myhostname and the realms of the
// sasldb at config sasldb_path (a missing file holds none).
Result<std::string> AuthRealmFor(const Config& config);

}  // namespace postern
