// lib/queue/maildir.h — delivery of one message into one recipient's Maildir.
//
// Owns the layout under the mail directory: ROOT/<domain>/<local part>/
// {tmp,new,cur}, created on first delivery (directories 0700, files 0600).
// Follows the Maildir protocol: write the file in tmp/ under a unique name
// (time.M<usec>P<pid>Q<n>.host), fsync it, rename it into new/, fsync new/.
// A reader never sees a partial message; once Deliver() returns ok the
// message survives a crash. Never touches the file system except through
// the FileSystem it is given, and never changes a file in new/ or cur/.
//
// Content is written exactly as stored: postern keeps messages byte for
// byte as received (CRLF line ends, no added Return-Path or Delivered-To),
// and Maildir readers such as Dovecot and mutt read CRLF files. What was
// queued is what is delivered.
//
// Mailbox names. The domain is lower-cased and must be a plain name (not
// empty, no '/', no leading '.', no space or control byte). The local part
// keeps its case (RFC 5321 2.4: only the receiving host may fold it); a
// quoted local part ("john doe") is unquoted first; then '/', '%', bytes
// below 0x20 (NUL included) and 0x7F become %XX (upper-case hex), and a
// leading '.' becomes %2E, so no local part can name a hidden entry, "..",
// or a path. The mapping is one-to-one because '%' itself is encoded.
//
// Exactly once. The final name in new/ is not random: it is derived from a
// DeliveryKey (qmgr uses the arrival time and the queue id with the
// recipient's index), so repeating a delivery that already reached new/ —
// because the process died before it could record the success — finds the
// earlier file in new/ (or in cur/, once a reader has moved it there and
// added ":2,flags") and writes nothing. Only a reader that deleted or moved
// the message out of the Maildir in that window gets a second copy. A first
// attempt (DeliveryKey::first_attempt) cannot have an earlier copy and does
// not look, so a delivery costs no listing of a large cur/.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "lib/base/file_system.h"
#include "lib/base/status.h"

namespace postern {

// Receives content piece by piece; the bytes are valid only during the call.
using ByteSink = std::function<Status(std::string_view bytes)>;
// Feeds the whole content, in order, to a sink and returns its status.
using ContentSource = std::function<Status(const ByteSink& sink)>;

// Names one delivery so that repeating it finds the earlier copy.
struct DeliveryKey {
  int64_t time = 0;  // seconds since the epoch: the first part of the file name
  std::string id;    // unique among all deliveries; letters, digits, '.', '_', '-'
  // No earlier attempt of this delivery can have reached the Maildir (qmgr
  // queued the message itself and never tried it): the search of new/ and
  // cur/ for an earlier copy, which reads all of cur/, is skipped, and the
  // mailbox's directories are made only when tmp/ cannot take the file.
  bool first_attempt = false;
};

struct MaildirDelivery {
  std::string path;              // the delivered file, or the earlier copy found
  bool already_present = false;  // an earlier attempt had delivered it
};

// The part of an address after its last '@' (empty when there is none).
std::string_view AddressDomain(std::string_view address);

// "local@Domain" -> "domain/local" with the mapping above, or why the address
// cannot name a mailbox. A refusal is permanent (Status::Permanent):
// retrying cannot help.
Result<std::string> MailboxPath(std::string_view address);

class Maildir {
 public:
  // root is the mail directory (created when missing, its parent must
  // exist); hostname goes into file names ('/' and ':' encoded as \057 and
  // \072, as the Maildir protocol asks). fs must outlive the Maildir.
  Maildir(FileSystem* fs, std::string root, std::string hostname);

  // Delivers content to address. Fails when MailboxPath() refuses the
  // address, when the content source fails, or when the file system does
  // (then no file is left in tmp/ or new/). The failure says whether a
  // retry may succeed: permanent when the address names no mailbox or the
  // file system refuses the recipient's own mailbox for good (a file where
  // its directory must be, permission denied inside it: Status::FromErrno);
  // resource-exhausted when the disk or quota is full; any other error
  // otherwise, also when the mail directory or the domain's directory
  // cannot be made or refuses a new mailbox (the system's trouble, which an
  // administrator mends).
  // Safe to call from several threads for different keys.
  Result<MaildirDelivery> Deliver(std::string_view address, const DeliveryKey& key,
                                  const ContentSource& content);

 private:
  Status EnsureDirectory(const std::string& path, const std::string& parent);
  Result<std::string> EnsureMailbox(const std::string& relative);
  Result<std::string> FindEarlierCopy(const std::string& mailbox, const std::string& name);
  // Writes content into the new file in tmp/ and syncs it.
  Status WriteTemporary(WritableFile& out, const ContentSource& content);
  std::string TemporaryName() const;

  FileSystem* fs_;
  std::string root_;
  std::string hostname_;  // already encoded for file names
};

}  // namespace postern
