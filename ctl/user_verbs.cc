// ctl/user_verbs.cc — `postern user add|passwd|del|list`.
//
// Maps the verbs onto lib/sasl/sasl_users over config sasldb_path, in the auth
// realm (auth_realm, by default the realm of the users already stored, or
// myhostname for the first one: lib/sasl/auth_realm). When run as root the file ends
// up root:<auth_user's group> 0640, so only root and authd can read it. Passwords come from
// standard input and go nowhere but libsasl2.
#include <unistd.h>

#include "ctl/cli.h"
#include "ctl/password_input.h"
#include "lib/base/privileges.h"
#include "lib/sasl/auth_realm.h"
#include "lib/sasl/sasl_users.h"

namespace postern::cli {
namespace {

const char kUserUsage[] = "user takes add NAME | passwd NAME | del NAME | list";

// The group that may read the sasldb: authd's when root, ours otherwise.
Result<gid_t> SasldbGroup(const Config& config) {
  if (!RunningAsRoot()) return getegid();
  Result<UserIdentity> auth = LookUpUser(config.auth_user, "auth_user");
  if (!auth.ok()) return auth.status();
  return auth->gid;
}

Result<std::unique_ptr<SaslUserDb>> OpenUserDb(const Config& config) {
  Result<gid_t> group = SasldbGroup(config);
  if (!group.ok()) return group.status();
  Result<std::string> realm = AuthRealmFor(config);
  if (!realm.ok()) return realm.status();
  return SaslUserDb::Open(config.sasldb_path, std::move(*realm), *group);
}

void CheckUserOperands(const std::vector<std::string>& operands) {
  if (operands.empty()) throw UsageError(kUserUsage);
  const std::string& sub = operands[0];
  bool named = sub == "add" || sub == "passwd" || sub == "del";
  if ((named && operands.size() != 2) || (sub == "list" && operands.size() != 1) ||
      (!named && sub != "list"))
    throw UsageError(kUserUsage);
}

Status ListUsers(SaslUserDb& db) {
  Result<std::vector<std::string>> users = db.List();
  if (!users.ok()) return users.status();
  for (const std::string& user : *users) PrintText(user);
  return Status::Ok();
}

Status WithNewPassword(SaslUserDb& db, const std::string& sub, const std::string& name,
                       const std::string& realm) {
  bool adding = sub == "add";
  // Refuse before asking for a password that would be thrown away.
  if (Status s = adding ? db.CheckAddable(name) : db.CheckExisting(name); !s.ok()) return s;
  Result<std::string> password = ReadNewPassword(name + "@" + realm);
  if (!password.ok()) return password.status();
  return adding ? db.Add(name, *password) : db.SetPassword(name, *password);
}

}  // namespace

Status RunUser(const Invocation& invocation) {
  const std::vector<std::string>& operands = invocation.operands;
  CheckUserOperands(operands);
  Result<Config> config = LoadCliConfig(invocation);
  if (!config.ok()) return config.status();
  Result<std::unique_ptr<SaslUserDb>> db = OpenUserDb(*config);
  if (!db.ok()) return db.status();
  const std::string& sub = operands[0];
  if (sub == "list") return ListUsers(**db);
  if (sub == "del") return (*db)->Delete(operands[1]);
  return WithNewPassword(**db, sub, operands[1], (*db)->realm());
}

}  // namespace postern::cli
