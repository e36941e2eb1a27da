// lib/sasl/sasl_users.h — postern's users in the Cyrus sasldb, and the SASL
// options every postern process gives libsasl2.
//
// Owns the answers to libsasl2's option questions (sasldb_path, the auxprop
// plugin, mech_list), so no file under /etc/sasl2 decides anything, and the
// administration of the user table: add, change a password, delete, list.
// Passwords are stored by libsasl2 itself (sasl_setpass) as the plaintext
// userPassword property that NTLM needs; listing reads only the keys of the
// Berkeley DB file libsasl2's sasldb plugin writes on Debian, never a value.
// Never logs or returns a password.
#pragma once

#include <sasl/sasl.h>
#include <sys/types.h>

#include <array>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/status.h"

namespace postern {

// The service name given to libsasl2 (sasl_server_new) by authd and the CLI.
constexpr char kSaslService[] = "smtp";

struct SaslOptions {
  std::string sasldb_path;
  // Space-separated mechanisms to load; empty loads none, which is what user
  // administration wants: then only the sasldb stores a secret, and it
  // stores exactly userPassword.
  std::string mech_list;
};

// Told the authentication id a client claims, when libsasl2 canonicalises it:
// before the mechanism fetches the user's secret.
class SaslUserObserver {
 public:
  virtual ~SaslUserObserver() = default;
  // name: as the client sent it (or as libsasl2 canonicalises it again).
  // False refuses it: libsasl2 is then handed a name no sasldb entry can
  // have, so the mechanism fails along its ordinary path without the user's
  // secret ever being read. (Failing the canonicalisation itself would make
  // Debian 12's LOGIN plugin leak the password it holds.)
  virtual bool OnAuthenticationId(std::string_view name) = 0;
};

// A sasl_callback_t list that answers getopt from a SaslOptions, routes
// libsasl2's log lines to lib/base/log and, given an observer, reports each
// authentication id to it (SASL_CB_CANON_USER, which leaves the name as it
// is for libsasl2's own canonicalisation). libsasl2 keeps the pointer, so the
// object must outlive every connection (and, for the global list, the process).
class SaslCallbacks {
 public:
  explicit SaslCallbacks(SaslOptions options, SaslUserObserver* observer = nullptr);
  SaslCallbacks(const SaslCallbacks&) = delete;
  SaslCallbacks& operator=(const SaslCallbacks&) = delete;

  const sasl_callback_t* get() const { return callbacks_.data(); }
  const SaslOptions& options() const { return options_; }

 private:
  static int GetOption(void* context, const char* plugin_name, const char* option,
                       const char** result, unsigned* length);
  static int CanonUser(sasl_conn_t* conn, void* context, const char* in, unsigned in_length,
                       unsigned flags, const char* user_realm, char* out, unsigned out_max,
                       unsigned* out_length);

  SaslOptions options_;
  SaslUserObserver* observer_;
  std::array<sasl_callback_t, 4> callbacks_;
};

// libsasl2 stores function pointers of several shapes in one field
// (sasl_callback_t::proc); going through void(*)() is the cast the compiler
// accepts as deliberate.
template <typename F>
int (*AsSaslCallback(F* function))(void) {
  return reinterpret_cast<int (*)(void)>(reinterpret_cast<void (*)()>(function));
}

// libsasl2's log callback (SASL_CB_LOG) for every postern connection, server
// or client: its lines go to lib/base/log, and SASL_LOG_PASS traces, which
// may hold passwords, nowhere.
int LogSaslMessage(void* context, int level, const char* message);

// Calls sasl_server_init once per process; later calls return the first
// outcome. Per-connection callbacks (sasl_server_new) override the global
// ones, so `global` only needs the options shared by every connection.
Status InitSaslServer(const SaslCallbacks* global);

// The user table of one sasldb file in one realm (the auth realm:
// lib/sasl/auth_realm's AuthRealmFor). Single-threaded, like libsasl2's sasldb.
class SaslUserDb {
 public:
  // Nothing is created until the first write. file_group is the group that
  // may read the file (authd's); it is applied only when running as root.
  static Result<std::unique_ptr<SaslUserDb>> Open(std::string sasldb_path, std::string realm,
                                                  gid_t file_group);
  ~SaslUserDb();

  Result<bool> Exists(std::string_view user) const;
  // The checks Add and SetPassword make before storing anything, for a
  // caller that wants to refuse before asking for a password.
  Status CheckAddable(std::string_view user) const;   // valid name, not present
  Status CheckExisting(std::string_view user) const;  // valid name, present
  // Refuses a user that exists.
  Status Add(std::string_view user, std::string_view password);
  // Refuses a user that does not exist.
  Status SetPassword(std::string_view user, std::string_view password);
  // Removes every property stored for user@realm and checks that none is left.
  Status Delete(std::string_view user);
  // "user@realm" for every user in the file (any realm), sorted, no duplicates.
  Result<std::vector<std::string>> List() const;
  const std::string& realm() const { return realm_; }
  // Ok when libsasl2 accepts the password for the user.
  Status CheckPassword(std::string_view user, std::string_view password);

 private:
  SaslUserDb(std::string sasldb_path, std::string realm, gid_t file_group);
  Status Store(std::string_view user, std::string_view password);
  Status SecureFile() const;
  Status CheckWritable() const;
  Result<std::vector<std::string>> PropertiesOf(std::string_view user) const;

  std::string path_;
  std::string realm_;
  gid_t file_group_;
  SaslCallbacks callbacks_;
  sasl_conn_t* conn_ = nullptr;
};

// The realms the sasldb at sasldb_path holds users in, sorted, no duplicates;
// none when the file does not exist.
Result<std::vector<std::string>> SasldbRealms(const std::string& sasldb_path);

// The users of the sasldb at sasldb_path as (user, realm), every realm; none
// when the file does not exist. Reads keys only, never a secret.
Result<std::set<std::pair<std::string, std::string>>> SasldbUsers(const std::string& sasldb_path);

// Refuses names libsasl2 or the sasldb key format cannot carry cleanly:
// empty, too long, white space, control characters.
Status ValidateUserName(std::string_view user);
// Refuses an empty, over-long or NUL-containing password.
Status ValidatePassword(std::string_view password);

}  // namespace postern
