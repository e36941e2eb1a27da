// lib/sasl/recipient_directory.cc — see lib/sasl/recipient_directory.h.
#include "lib/sasl/recipient_directory.h"

#include <errno.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "lib/base/ascii.h"
#include "lib/base/log.h"
#include "lib/base/printable.h"
#include "lib/sasl/sasl_users.h"

namespace postern {
namespace {

Result<std::set<std::string>> ReadMapFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) return Status::FromErrno("cannot read local_recipient_map file " + path, errno);
  std::stringstream text;
  text << file.rdbuf();
  return ParseRecipientMap(text.str(), path);
}

}  // namespace

bool RecipientDirectory::FileStamp::operator==(const FileStamp& other) const {
  return exists == other.exists && device == other.device && inode == other.inode &&
         size == other.size && modified.tv_sec == other.modified.tv_sec &&
         modified.tv_nsec == other.modified.tv_nsec;
}

Result<RecipientDirectory> RecipientDirectory::Load(const Config& config, std::string auth_realm) {
  RecipientDirectory directory;
  directory.sasldb_path_ = config.sasldb_path;
  directory.known_.auth_realm = std::move(auth_realm);
  for (const std::string& source : config.local_recipient_map) {
    if (source == kSasldbRecipientSource) {
      directory.known_.use_sasldb = true;
      continue;
    }
    std::string path = source.front() == '/' ? source : config.config_dir + "/" + source;
    Result<std::set<std::string>> keys = ReadMapFile(path);
    if (!keys.ok()) return keys.status();
    directory.known_.map_keys.merge(*keys);
  }
  return directory;
}

Result<RecipientDirectory::FileStamp> RecipientDirectory::StampOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return FileStamp{};
    return Status::FromErrno("cannot stat sasldb " + path, errno);
  }
  return FileStamp{true, st.st_dev, st.st_ino, st.st_size, st.st_mtim};
}

Status RecipientDirectory::Refresh() {
  Result<FileStamp> stamp = StampOf(sasldb_path_);
  if (!stamp.ok()) return stamp.status();
  if (loaded_ && *loaded_ == *stamp) return Status::Ok();
  Result<std::set<std::pair<std::string, std::string>>> users = SasldbUsers(sasldb_path_);
  if (!users.ok()) {
    loaded_.reset();
    return users.status();
  }
  known_.sasldb_users.clear();
  for (const auto& [user, realm] : *users) known_.sasldb_users.emplace(user, AsciiLowerCase(realm));
  loaded_ = *stamp;
  return Status::Ok();
}

RecipientDirectory::Lookup RecipientDirectory::Check(std::string_view address) {
  if (known_.use_sasldb) {
    if (Status s = Refresh(); !s.ok()) {
      LOG_ERROR("cannot tell whether recipient %s exists: %s", Printable(address, 200).c_str(),
                s.message().c_str());
      return {ipc::RecipientVerdict::kUnavailable, {}};
    }
  }
  std::optional<std::string> known_as = KnownAs(known_, address);
  if (!known_as) return {ipc::RecipientVerdict::kUnknown, {}};
  return {ipc::RecipientVerdict::kKnown, std::move(*known_as)};
}

}  // namespace postern
