// lib/sasl/auth_realm.cc — the Cyrus SASL realm postern's users live in.
#include "lib/sasl/auth_realm.h"

#include <algorithm>

#include "lib/sasl/sasl_users.h"

namespace postern {

Result<std::string> ChooseAuthRealm(const std::string& configured, const std::string& myhostname,
                                    const std::vector<std::string>& stored_realms) {
  if (!configured.empty()) return configured;
  if (stored_realms.empty()) return myhostname;
  if (stored_realms.size() == 1) return stored_realms.front();
  if (std::find(stored_realms.begin(), stored_realms.end(), myhostname) != stored_realms.end())
    return myhostname;
  std::string names;
  for (const std::string& realm : stored_realms) names += (names.empty() ? "" : ", ") + realm;
  return Status::Error("the sasldb holds users in several realms (" + names +
                       ") and none is myhostname: set auth_realm to the realm to use");
}

Result<std::string> AuthRealmFor(const Config& config) {
  Result<std::vector<std::string>> stored = SasldbRealms(config.sasldb_path);
  if (!stored.ok()) return stored.status();
  Result<std::string> realm = ChooseAuthRealm(config.auth_realm, config.myhostname, *stored);
  if (!realm.ok()) return Status::Error(config.sasldb_path + ": " + realm.status().message());
  return realm;
}

}  // namespace postern
