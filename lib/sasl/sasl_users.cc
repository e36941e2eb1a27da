// lib/sasl/sasl_users.cc — see lib/sasl/sasl_users.h.
//
// Writes go through libsasl2's public API only (sasl_setpass,
// sasl_auxprop_store), so the stored form is exactly what the sasldb plugin
// reads back at AUTH time. Reading the list of users has no public API; it
// opens the file read-only with Berkeley DB 5.3, the library Debian 12's
// libsasldb.so is linked with, and decodes only keys ("user\0realm\0property").
#include "lib/sasl/sasl_users.h"

#include <db.h>
#include <errno.h>
#include <sasl/prop.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <set>

#include "lib/base/log.h"
#include "lib/base/privileges.h"

namespace postern {
namespace {

// sasldb hands values to mechanisms through an 8 KB buffer; passwords stay
// far below it, and a longer "password" is a mistake (a file piped in).
constexpr size_t kMaxPasswordLength = 1024;
// The longest name a sasldb key and an SMTP AUTH exchange comfortably carry.
constexpr size_t kMaxUserNameLength = 255;
// What a refused authentication id becomes: ValidateUserName refuses control
// characters, so no user of ours has this name.
constexpr std::string_view kRefusedUserName = "\x7f";
// Only root and authd's group may read secrets; nobody else sees the file.
constexpr mode_t kSasldbMode = 0640;
constexpr mode_t kSasldbUmask = 0137;

class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : previous_(umask(mask)) {}
  ~ScopedUmask() { umask(previous_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  mode_t previous_;
};

struct DbCloser {
  void operator()(DB* db) const { db->close(db, 0); }
};
struct CursorCloser {
  void operator()(DBC* cursor) const { cursor->close(cursor); }
};
using DbPtr = std::unique_ptr<DB, DbCloser>;
using CursorPtr = std::unique_ptr<DBC, CursorCloser>;

struct SasldbKey {
  std::string user;
  std::string realm;
  std::string property;
};

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Result<SasldbKey> ParseKey(const std::string& path, std::string_view key) {
  size_t first = key.find('\0');
  size_t second = first == std::string_view::npos ? first : key.find('\0', first + 1);
  if (second == std::string_view::npos || key.find('\0', second + 1) != std::string_view::npos)
    return Status::Error(path +
                         " holds a key that is not user NUL realm NUL property: "
                         "is it a Cyrus sasldb file?");
  return SasldbKey{std::string(key.substr(0, first)),
                   std::string(key.substr(first + 1, second - first - 1)),
                   std::string(key.substr(second + 1))};
}

// Berkeley DB explains a failure in a message of its own (written to stderr
// unless caught); keep the last one for our error text instead.
std::string g_db_message;

void KeepDbMessage(const DB_ENV* /*env*/, const char* /*prefix*/, const char* message) {
  g_db_message = message;
}

Status DbError(const std::string& what, int rc) {
  std::string text = what + ": " + db_strerror(rc);
  if (!g_db_message.empty()) text += " (" + g_db_message + ")";
  g_db_message.clear();
  return Status::Error(text);
}

Result<DbPtr> OpenReadOnly(const std::string& path) {
  DB* raw = nullptr;
  if (int rc = db_create(&raw, nullptr, 0); rc != 0)
    return DbError("cannot create a Berkeley DB handle for " + path, rc);
  DbPtr db(raw);
  db->set_errcall(db.get(), &KeepDbMessage);
  g_db_message.clear();
  if (int rc = db->open(db.get(), nullptr, path.c_str(), nullptr, DB_HASH, DB_RDONLY, 0); rc != 0)
    return DbError("cannot open sasldb " + path, rc);
  return db;
}

// Every key of the file; a missing file is an empty table.
Result<std::vector<SasldbKey>> ReadKeys(const std::string& path) {
  std::vector<SasldbKey> keys;
  if (!FileExists(path)) return keys;
  Result<DbPtr> db = OpenReadOnly(path);
  if (!db.ok()) return db.status();
  DBC* raw_cursor = nullptr;
  if (int rc = (*db)->cursor(db->get(), nullptr, &raw_cursor, 0); rc != 0)
    return DbError("cannot read sasldb " + path, rc);
  CursorPtr cursor(raw_cursor);
  DBT key = {};
  DBT value = {};
  // DB_DBT_PARTIAL with length 0: Berkeley DB never copies a value out.
  value.flags = DB_DBT_PARTIAL;
  int rc;
  while ((rc = cursor->get(cursor.get(), &key, &value, DB_NEXT)) == 0) {
    Result<SasldbKey> parsed =
        ParseKey(path, std::string_view(static_cast<const char*>(key.data), key.size));
    if (!parsed.ok()) return parsed.status();
    keys.push_back(std::move(*parsed));
  }
  if (rc != DB_NOTFOUND) return DbError("cannot read sasldb " + path, rc);
  return keys;
}

Status SaslError(sasl_conn_t* conn, const std::string& what, int rc) {
  const char* detail =
      conn != nullptr ? sasl_errdetail(conn) : sasl_errstring(rc, nullptr, nullptr);
  return Status::Error(what + ": " + (detail != nullptr ? detail : "unknown SASL error"));
}

struct PropCtxDisposer {
  void operator()(propctx* ctx) const { prop_dispose(&ctx); }
};

}  // namespace

SaslCallbacks::SaslCallbacks(SaslOptions options, SaslUserObserver* observer)
    : options_(std::move(options)),
      observer_(observer),
      callbacks_{{{SASL_CB_GETOPT, AsSaslCallback(&GetOption), this},
                  {SASL_CB_LOG, AsSaslCallback(&LogSaslMessage), this},
                  observer != nullptr
                      ? sasl_callback_t{SASL_CB_CANON_USER, AsSaslCallback(&CanonUser), this}
                      : sasl_callback_t{SASL_CB_LIST_END, nullptr, nullptr},
                  {SASL_CB_LIST_END, nullptr, nullptr}}} {}

int SaslCallbacks::GetOption(void* context, const char* /*plugin_name*/, const char* option,
                             const char** result, unsigned* length) {
  const auto* self = static_cast<const SaslCallbacks*>(context);
  std::string_view name(option);
  const char* value = nullptr;
  if (name == "sasldb_path") {
    value = self->options_.sasldb_path.c_str();
  } else if (name == "mech_list") {
    value = self->options_.mech_list.c_str();
  } else if (name == "auxprop_plugin") {
    value = "sasldb";
  } else if (name == "pwcheck_method") {
    value = "auxprop";
  } else {
    return SASL_FAIL;  // libsasl2's built-in default
  }
  *result = value;
  if (length != nullptr) *length = static_cast<unsigned>(strlen(value));
  return SASL_OK;
}

int LogSaslMessage(void* /*context*/, int level, const char* message) {
  switch (level) {
    case SASL_LOG_ERR:
      LOG_ERROR("sasl: %s", message);
      break;
    case SASL_LOG_FAIL:
    case SASL_LOG_WARN:
      LOG_WARNING("sasl: %s", message);
      break;
    case SASL_LOG_PASS:
      break;  // traces that include passwords are never written anywhere
    default:
      LOG_DEBUG("sasl: %s", message);
      break;
  }
  return SASL_OK;
}

int SaslCallbacks::CanonUser(sasl_conn_t* /*conn*/, void* context, const char* in,
                             unsigned in_length, unsigned flags, const char* /*user_realm*/,
                             char* out, unsigned out_max, unsigned* out_length) {
  auto* self = static_cast<SaslCallbacks*>(context);
  // libsasl2's convention for canonicalisation input: length 0 means NUL-terminated.
  std::string_view name = in_length != 0 ? std::string_view(in, in_length) : std::string_view(in);
  if ((flags & SASL_CU_AUTHID) != 0 && !self->observer_->OnAuthenticationId(name))
    name = kRefusedUserName;
  if (name.size() >= out_max) return SASL_BUFOVER;
  memcpy(out, name.data(), name.size());
  *out_length = static_cast<unsigned>(name.size());
  return SASL_OK;
}

Status InitSaslServer(const SaslCallbacks* global) {
  static std::once_flag once;
  static int rc = SASL_OK;
  std::call_once(once, [global] { rc = sasl_server_init(global->get(), "postern"); });
  if (rc != SASL_OK)
    return Status::Error(std::string("cannot initialise Cyrus SASL: ") +
                         sasl_errstring(rc, nullptr, nullptr));
  return Status::Ok();
}

Status ValidateUserName(std::string_view user) {
  if (user.empty()) return Status::Error("user name is empty");
  if (user.size() > kMaxUserNameLength)
    return Status::Error("user name is longer than " + std::to_string(kMaxUserNameLength) +
                         " bytes");
  for (unsigned char c : user) {
    if (c <= 0x20 || c == 0x7f)
      return Status::Error("user name \"" + std::string(user) +
                           "\" contains white space or a control character");
  }
  return Status::Ok();
}

Status ValidatePassword(std::string_view password) {
  if (password.empty()) return Status::Error("empty password refused");
  if (password.size() > kMaxPasswordLength)
    return Status::Error("password is longer than " + std::to_string(kMaxPasswordLength) +
                         " bytes");
  if (password.find('\0') != std::string_view::npos)
    return Status::Error("password contains a NUL byte");
  return Status::Ok();
}

SaslUserDb::SaslUserDb(std::string sasldb_path, std::string realm, gid_t file_group)
    : path_(std::move(sasldb_path)),
      realm_(std::move(realm)),
      file_group_(file_group),
      callbacks_(SaslOptions{path_, ""}) {}

SaslUserDb::~SaslUserDb() {
  if (conn_ != nullptr) sasl_dispose(&conn_);
}

Result<std::unique_ptr<SaslUserDb>> SaslUserDb::Open(std::string sasldb_path, std::string realm,
                                                     gid_t file_group) {
  if (sasldb_path.empty()) return Status::Error("sasldb_path is empty");
  if (realm.empty()) return Status::Error("the auth realm (myhostname) is empty");
  static const SaslCallbacks global{SaslOptions{}};
  if (Status s = InitSaslServer(&global); !s.ok()) return s;
  std::unique_ptr<SaslUserDb> db(
      new SaslUserDb(std::move(sasldb_path), std::move(realm), file_group));
  int rc = sasl_server_new(kSaslService, db->realm_.c_str(), db->realm_.c_str(), nullptr, nullptr,
                           db->callbacks_.get(), 0, &db->conn_);
  if (rc != SASL_OK) return SaslError(nullptr, "cannot start a SASL server connection", rc);
  return db;
}

Result<std::vector<std::string>> SaslUserDb::PropertiesOf(std::string_view user) const {
  Result<std::vector<SasldbKey>> keys = ReadKeys(path_);
  if (!keys.ok()) return keys.status();
  // libsasl2's sasldb plugin stores "local@domain" as user "local" in realm
  // "domain": it splits at the first '@' (_plug_parseuser).
  std::string_view name = user;
  std::string_view realm = realm_;
  if (size_t at = user.find('@'); at != std::string_view::npos) {
    name = user.substr(0, at);
    realm = user.substr(at + 1);
  }
  std::vector<std::string> properties;
  for (const SasldbKey& key : *keys) {
    if (key.user == name && key.realm == realm) properties.push_back(key.property);
  }
  return properties;
}

Result<bool> SaslUserDb::Exists(std::string_view user) const {
  Result<std::vector<std::string>> properties = PropertiesOf(user);
  if (!properties.ok()) return properties.status();
  return !properties->empty();
}

Status SaslUserDb::CheckWritable() const {
  if (FileExists(path_)) {
    if (access(path_.c_str(), R_OK | W_OK) != 0)
      return Status::FromErrno("cannot write sasldb " + path_, errno);
    return Status::Ok();
  }
  std::string dir = DirectoryOf(path_);
  if (access(dir.c_str(), W_OK | X_OK) != 0)
    return Status::FromErrno("cannot create sasldb " + path_ + " in " + dir, errno);
  return Status::Ok();
}

Status SaslUserDb::SecureFile() const {
  if (!FileExists(path_)) return Status::Ok();
  if (chmod(path_.c_str(), kSasldbMode) != 0)
    return Status::FromErrno("chmod 0640 " + path_, errno);
  if (RunningAsRoot() && chown(path_.c_str(), 0, file_group_) != 0)
    return Status::Error("chown root:" + std::to_string(file_group_) + " " + path_ + ": " +
                         strerror(errno));
  return Status::Ok();
}

Status SaslUserDb::Store(std::string_view user, std::string_view password) {
  if (Status s = ValidatePassword(password); !s.ok()) return s;
  if (Status s = CheckWritable(); !s.ok()) return s;
  std::string name(user);
  int rc;
  {
    ScopedUmask mask(kSasldbUmask);
    rc = sasl_setpass(conn_, name.c_str(), password.data(), static_cast<unsigned>(password.size()),
                      nullptr, 0, SASL_SET_CREATE);
  }
  if (Status s = SecureFile(); !s.ok()) return s;
  if (rc != SASL_OK) return SaslError(conn_, "cannot store the password of " + name, rc);
  return Status::Ok();
}

Status SaslUserDb::CheckAddable(std::string_view user) const {
  if (Status s = ValidateUserName(user); !s.ok()) return s;
  Result<bool> exists = Exists(user);
  if (!exists.ok()) return exists.status();
  if (*exists)
    return Status::Error("user " + std::string(user) + "@" + realm_ + " already exists in " +
                         path_ + " (use passwd to change the password)");
  return Status::Ok();
}

Status SaslUserDb::CheckExisting(std::string_view user) const {
  if (Status s = ValidateUserName(user); !s.ok()) return s;
  Result<bool> exists = Exists(user);
  if (!exists.ok()) return exists.status();
  if (!*exists)
    return Status::Error("user " + std::string(user) + "@" + realm_ + " does not exist in " +
                         path_);
  return Status::Ok();
}

Status SaslUserDb::Add(std::string_view user, std::string_view password) {
  if (Status s = CheckAddable(user); !s.ok()) return s;
  return Store(user, password);
}

Status SaslUserDb::SetPassword(std::string_view user, std::string_view password) {
  if (Status s = CheckExisting(user); !s.ok()) return s;
  return Store(user, password);
}

Status SaslUserDb::Delete(std::string_view user) {
  if (Status s = CheckExisting(user); !s.ok()) return s;
  if (Status s = CheckWritable(); !s.ok()) return s;
  Result<std::vector<std::string>> properties = PropertiesOf(user);
  if (!properties.ok()) return properties.status();
  std::string name(user);
  // Requested properties without values are deletions for the sasldb store.
  std::vector<const char*> names;
  for (const std::string& p : *properties) names.push_back(p.c_str());
  names.push_back(nullptr);
  std::unique_ptr<propctx, PropCtxDisposer> ctx(prop_new(0));
  if (ctx == nullptr || prop_request(ctx.get(), names.data()) != SASL_OK)
    return Status::Error("out of memory building the deletion of " + name);
  int rc = sasl_auxprop_store(conn_, ctx.get(), name.c_str());
  if (rc != SASL_OK) return SaslError(conn_, "cannot delete " + name + " from " + path_, rc);
  Result<std::vector<std::string>> left = PropertiesOf(user);
  if (!left.ok()) return left.status();
  if (!left->empty())
    return Status::Error("deleting " + name + "@" + realm_ + " left " +
                         std::to_string(left->size()) + " entries in " + path_);
  return Status::Ok();
}

Result<std::vector<std::string>> SaslUserDb::List() const {
  Result<std::set<std::pair<std::string, std::string>>> pairs = SasldbUsers(path_);
  if (!pairs.ok()) return pairs.status();
  std::set<std::string> users;
  for (const auto& [user, realm] : *pairs) users.insert(user + "@" + realm);
  return std::vector<std::string>(users.begin(), users.end());
}

Result<std::set<std::pair<std::string, std::string>>> SasldbUsers(const std::string& sasldb_path) {
  Result<std::vector<SasldbKey>> keys = ReadKeys(sasldb_path);
  if (!keys.ok()) return keys.status();
  std::set<std::pair<std::string, std::string>> users;
  for (const SasldbKey& key : *keys) users.emplace(key.user, key.realm);
  return users;
}

Result<std::vector<std::string>> SasldbRealms(const std::string& sasldb_path) {
  Result<std::vector<SasldbKey>> keys = ReadKeys(sasldb_path);
  if (!keys.ok()) return keys.status();
  std::set<std::string> realms;
  for (const SasldbKey& key : *keys) realms.insert(key.realm);
  return std::vector<std::string>(realms.begin(), realms.end());
}

Status SaslUserDb::CheckPassword(std::string_view user, std::string_view password) {
  std::string name(user);
  int rc = sasl_checkpass(conn_, name.c_str(), static_cast<unsigned>(name.size()), password.data(),
                          static_cast<unsigned>(password.size()));
  switch (rc) {
    case SASL_OK:
      return Status::Ok();
    case SASL_BADAUTH:
      return Status::Error("wrong password for " + name + "@" + realm_);
    case SASL_NOUSER:
      return Status::Error("user " + name + "@" + realm_ + " does not exist in " + path_);
    default:
      return SaslError(conn_, "cannot check the password of " + name, rc);
  }
}

}  // namespace postern
