// lib/smtp/local_recipients.h — which addresses of local_domains have a
// mailbox (local_recipient_map), so that smtpd refuses the others at RCPT.
//
// local_recipient_map lists the sources of valid local recipients: the word
// `sasldb` means the users of the sasldb, any other word names a file in
// Postfix's map-source form (`key [value]` lines, comments as in every
// configuration file, lib/config/text_lines.h; only the key counts). Empty:
// every local address is accepted, and smtpd asks nobody.
//
// Decided here:
//   - Only recipients whose domain is one of local_domains are checked;
//     <Postmaster> (rewritten to postmaster_address by the session),
//     postmaster@ and the local part of postmaster_address at any local
//     domain are always accepted (RFC 5321 4.5.1 asks every domain to take
//     mail for its postmaster).
//   - local@domain is known when the sasldb holds user `local` in the auth
//     realm, or in realm `domain` (a login with an @ is looked up in the
//     realm after the @), or a map file has the key `local` (any local
//     domain) or `local@domain`.
//   - Domains and realms compare case-insensitively. The local part is
//     looked up as the client wrote it and, when that fails, lower-cased, so
//     Alice@ finds user alice (not the reverse: a user stored as Alice is
//     found only as Alice@). A quoted local part is compared with its quotes.
//   - A recipient found under the lower-cased spelling is known as that
//     spelling: the session records alice@domain, so the message reaches
//     the Maildir of the user that was found (lib/queue/maildir.h keeps the
//     case it is given), and the client's spelling stays as the ORCPT.
//   - A map key is `local` or `local@domain` with neither part empty;
//     anything else (Postfix's catch-all `@domain` included) is an error
//     naming the file and line.
// Never reads a file: authd reads the sasldb and the map files and keeps
// what this header's types need (auth/recipient_directory).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/status.h"
#include "lib/config/config.h"
#include "lib/smtp/smtp_address.h"

namespace postern {

// The word of local_recipient_map that means the users of the sasldb.
constexpr std::string_view kSasldbRecipientSource = "sasldb";

// Whether smtpd must ask authd about recipient before it accepts it: the
// map is not empty, its domain is local and it is no postmaster address.
bool NeedsRecipientCheck(const Config& config, const Mailbox& recipient);

// The keys of a recipient map file: "local" as written, or "local@domain"
// with the domain lower-cased. Errors name file_name and the line.
Result<std::set<std::string>> ParseRecipientMap(std::string_view text,
                                                const std::string& file_name);

// What authd knows about local recipients at one moment.
struct KnownRecipients {
  bool use_sasldb = false;
  std::string auth_realm;
  // The sasldb's users as (user, realm lower-cased).
  std::set<std::pair<std::string, std::string>> sasldb_users;
  // The keys of every map file (ParseRecipientMap).
  std::set<std::string> map_keys;
};

// The address ("local@domain", domain local) as the directory knows it: the
// local part in the spelling that was found (as written, else lower-cased),
// the domain as written. Nothing when no source knows the recipient.
std::optional<std::string> KnownAs(const KnownRecipients& known, std::string_view address);

}  // namespace postern
