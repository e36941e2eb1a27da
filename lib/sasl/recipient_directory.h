// lib/sasl/recipient_directory.h — authd's answer to "does this local
// recipient exist?" (local_recipient_map).
//
// Holds the keys of the map files, read when it is made (authd makes one at
// start and at every reload), and the users of the sasldb, read again only
// when the file changed (its inode, size or modification time), so `postern
// user add` and `user del` count at the next RCPT without a reload and no
// query reads the whole file. The decision itself is lib/smtp/local_recipients.
// A sasldb that cannot be read answers kUnavailable (smtpd says 451 4.3.0)
// and is tried again at the next query. Single-threaded, like authd.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/status.h"
#include "lib/config/config.h"
#include "lib/ipc/messages_auth.h"
#include "lib/smtp/local_recipients.h"

namespace postern {

class RecipientDirectory {
 public:
  // Reads every map file of config.local_recipient_map (a relative name is
  // in the configuration directory); an error names the file and, for a
  // bad key, the line. auth_realm: lib/sasl/auth_realm's AuthRealmFor.
  static Result<RecipientDirectory> Load(const Config& config, std::string auth_realm);

  // address: "local@domain" with a local domain. For kKnown, known_as is the
  // address as the directory knows it (lib/smtp/local_recipients.h KnownAs).
  struct Lookup {
    ipc::RecipientVerdict verdict = ipc::RecipientVerdict::kUnavailable;
    std::string known_as;
  };
  Lookup Check(std::string_view address);

 private:
  // What tells one version of the sasldb file from the next.
  struct FileStamp {
    bool exists = false;
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    timespec modified{};
    bool operator==(const FileStamp& other) const;
  };
  static Result<FileStamp> StampOf(const std::string& path);
  // Reads the sasldb's users again when the file changed.
  Status Refresh();

  std::string sasldb_path_;
  KnownRecipients known_;
  std::optional<FileStamp> loaded_;  // the sasldb version in known_; unset: none yet
};

}  // namespace postern
