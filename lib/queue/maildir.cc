// lib/queue/maildir.cc — Maildir delivery of lib/queue/maildir.h.
#include "lib/queue/maildir.h"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>

#include "lib/base/ascii.h"
#include "lib/base/process_id.h"

namespace postern {
namespace {

constexpr mode_t kDirectoryMode = 0700;
constexpr mode_t kFileMode = 0600;
constexpr size_t kMaxNameLength = 255;  // NAME_MAX of the common file systems

bool IsControlOrSpace(unsigned char c) { return c <= 0x20 || c == 0x7f; }

Result<std::string> DomainDirectory(std::string_view domain) {
  if (domain.empty()) return Status::Error("address has an empty domain");
  if (domain.front() == '.') return Status::Error("domain starts with '.'");
  if (domain.size() > kMaxNameLength) return Status::Error("domain is longer than 255 bytes");
  std::string out;
  for (unsigned char c : domain) {
    if (c == '/' || IsControlOrSpace(c))
      return Status::Error("domain contains a '/', space or control byte");
    out.push_back(AsciiToLower(static_cast<char>(c)));
  }
  return out;
}

// "john doe" -> john doe; a backslash quotes the byte after it.
std::string Unquote(std::string_view local) {
  if (local.size() < 2 || local.front() != '"' || local.back() != '"') return std::string(local);
  std::string out;
  local = local.substr(1, local.size() - 2);
  for (size_t i = 0; i < local.size(); ++i) {
    if (local[i] == '\\' && i + 1 < local.size()) ++i;
    out.push_back(local[i]);
  }
  return out;
}

Result<std::string> LocalDirectory(std::string_view local_part) {
  std::string local = Unquote(local_part);
  if (local.empty()) return Status::Error("address has an empty local part");
  std::string out;
  for (size_t i = 0; i < local.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(local[i]);
    if (c == '/' || c == '%' || c < 0x20 || c == 0x7f || (i == 0 && c == '.')) {
      char escaped[4];
      snprintf(escaped, sizeof escaped, "%%%02X", c);
      out += escaped;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (out.size() > kMaxNameLength) return Status::Error("local part is too long for a file name");
  return out;
}

std::string EncodeHostname(std::string_view hostname) {
  std::string out;
  for (char c : hostname) {
    if (c == '/')
      out += "\\057";
    else if (c == ':')
      out += "\\072";
    else
      out.push_back(c);
  }
  return out;
}

bool IsValidKeyId(std::string_view id) {
  if (id.empty()) return false;
  for (char c : id)
    if (!IsAsciiAlpha(c) && !IsAsciiDigit(c) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

std::string Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string_view AddressDomain(std::string_view address) {
  size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
}

Result<std::string> MailboxPath(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos)
    return Status::Permanent("address " + std::string(address) + " has no domain");
  Result<std::string> domain = DomainDirectory(address.substr(at + 1));
  if (!domain.ok())
    return Status::Permanent("address " + std::string(address) + ": " + domain.status().message());
  Result<std::string> local = LocalDirectory(address.substr(0, at));
  if (!local.ok())
    return Status::Permanent("address " + std::string(address) + ": " + local.status().message());
  return *domain + "/" + *local;
}

Maildir::Maildir(FileSystem* fs, std::string root, std::string hostname)
    : fs_(fs), root_(std::move(root)), hostname_(EncodeHostname(hostname)) {}

Status Maildir::EnsureDirectory(const std::string& path, const std::string& parent) {
  Result<bool> created = fs_->MakeDirectory(path, kDirectoryMode);
  if (!created.ok()) return created.status();
  // A new directory's name is durable only once its parent is synced.
  return *created ? fs_->SyncDirectory(parent) : Status::Ok();
}

namespace {

// A mail directory or domain directory that cannot be made is the
// system's trouble, not the recipient's: it may be mended, so it defers.
Status NotPermanent(const Status& failure) {
  return failure.is_permanent() ? Status::Error(failure.message()) : failure;
}

}  // namespace

Result<std::string> Maildir::EnsureMailbox(const std::string& relative) {
  std::string mailbox = root_ + "/" + relative;
  const std::string domain = Parent(mailbox);
  if (Status s = EnsureDirectory(root_, Parent(root_)); !s.ok()) return NotPermanent(s);
  if (Status s = EnsureDirectory(domain, root_); !s.ok()) return NotPermanent(s);
  if (Status s = EnsureDirectory(mailbox, domain); !s.ok()) {
    // Something in the mailbox's place that is not one (a file) is the
    // recipient's trouble; the domain's directory refusing a new mailbox is
    // the system's.
    Result<bool> occupied = fs_->FileExists(mailbox);
    return occupied.ok() && *occupied ? s : NotPermanent(s);
  }
  // tmp/ comes last: a first attempt writes into tmp/ without making the
  // mailbox (Deliver), so once another delivery made tmp/, new/ and cur/
  // must already exist, their names synced, for its rename into new/.
  for (const char* sub : {"/new", "/cur", "/tmp"})
    if (Status s = EnsureDirectory(mailbox + sub, mailbox); !s.ok()) return s;
  return mailbox;
}

// The path of an earlier copy named `name` in new/ or cur/ (where a reader
// appends ":2,flags"), or an empty string.
Result<std::string> Maildir::FindEarlierCopy(const std::string& mailbox, const std::string& name) {
  Result<bool> in_new = fs_->FileExists(mailbox + "/new/" + name);
  if (!in_new.ok()) return in_new.status();
  if (*in_new) return mailbox + "/new/" + name;
  Result<std::vector<std::string>> in_cur = fs_->ListDirectory(mailbox + "/cur");
  if (!in_cur.ok()) return in_cur.status();
  for (const std::string& entry : *in_cur) {
    if (entry == name || (entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 &&
                          entry[name.size()] == ':'))
      return mailbox + "/cur/" + entry;
  }
  return std::string();
}

std::string Maildir::TemporaryName() const {
  static std::atomic<uint64_t> counter{0};
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  char name[96];
  snprintf(name, sizeof name, "%lld.M%ldP%dQ%" PRIu64 ".", static_cast<long long>(tv.tv_sec),
           static_cast<long>(tv.tv_usec), ProcessId(), ++counter);
  return name + hostname_;
}

Status Maildir::WriteTemporary(WritableFile& out, const ContentSource& content) {
  if (Status s = content([&out](std::string_view bytes) { return out.Append(bytes); }); !s.ok())
    return s;
  if (Status s = out.Sync(); !s.ok()) return s;
  return out.Close();
}

Result<MaildirDelivery> Maildir::Deliver(std::string_view address, const DeliveryKey& key,
                                         const ContentSource& content) {
  if (!IsValidKeyId(key.id))
    return Status::Error("maildir: delivery id '" + key.id + "' is not a valid file name part");
  Result<std::string> relative = MailboxPath(address);
  if (!relative.ok()) return relative.status();
  const std::string mailbox = root_ + "/" + *relative;
  const std::string name = std::to_string(key.time) + "." + key.id + "." + hostname_;
  const std::string new_dir = mailbox + "/new";
  if (!key.first_attempt) {
    // Only a repeated delivery can find its own earlier copy.
    if (Result<std::string> made = EnsureMailbox(*relative); !made.ok()) return made.status();
    Result<std::string> earlier = FindEarlierCopy(mailbox, name);
    if (!earlier.ok()) return earlier.status();
    if (!earlier->empty()) {
      // The earlier attempt may have died before its directory sync.
      if (Status s = fs_->SyncDirectory(new_dir); !s.ok()) return s;
      return MaildirDelivery{*earlier, true};
    }
  }
  const std::string temporary = mailbox + "/tmp/" + TemporaryName();
  Result<std::unique_ptr<WritableFile>> file = fs_->CreateNewFile(temporary, kFileMode);
  if (!file.ok() && key.first_attempt) {
    // Most often the mailbox's first message: its directories are made
    // (and their names synced) only when tmp/ cannot take the file.
    if (Result<std::string> made = EnsureMailbox(*relative); !made.ok()) return made.status();
    file = fs_->CreateNewFile(temporary, kFileMode);
  }
  if (!file.ok()) return file.status();
  const std::string final_path = new_dir + "/" + name;
  Status written = WriteTemporary(**file, content);
  file->reset();
  if (written.ok()) written = fs_->Rename(temporary, final_path);
  if (!written.ok()) {
    fs_->RemoveFile(temporary);  // best effort: a missing file is fine, readers purge tmp/ anyway
    return written;
  }
  // The file is in new/ now; if this sync fails, a retry finds it and syncs again.
  if (Status s = fs_->SyncDirectory(new_dir); !s.ok()) return s;
  return MaildirDelivery{final_path, false};
}

}  // namespace postern
