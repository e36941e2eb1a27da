// lib/smtp/sender_login.h — which MAIL FROM addresses a login may use
// (sender_login_check, the MS-OXSMTP 4.3 "Client does not have permissions
// to submit to this server" row).
//
// A login may send as:
//   - login@D for every local domain D, when the login has no '@';
//   - the login itself, when the login is an address;
//   - every address that the listener's sender_login_map gives it.
// Addresses compare case-insensitively (what administrators expect, though
// RFC 5321 lets a local part be case-sensitive). The null reverse path <>
// is always allowed: it is what bounces and receipts use. The map is read
// by smtpd before it chroots, and never changes under a live session.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"

namespace postern {

class SenderLoginMap {
 public:
  // sender_login_map text: one address per line, then white space and the
  // logins allowed to use it, separated by commas and/or white space;
  // comments as in every configuration file (lib/config/text_lines.h).
  // Errors name file_name and the line.
  static Result<SenderLoginMap> Parse(std::string_view text, const std::string& file_name);
  // Reads and parses path; an empty path is an empty map.
  static Result<SenderLoginMap> Load(const std::string& path);

  // sender is the reverse path's "local@domain" ("" for <>).
  bool Allows(std::string_view login, std::string_view sender,
              const std::vector<std::string>& local_domains) const;

 private:
  std::map<std::string, std::set<std::string>> logins_by_address_;  // both lower-case
};

}  // namespace postern
