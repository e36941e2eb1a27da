// lib/smtp/smtp_address.h — envelope addresses and ESMTP parameters of MAIL/RCPT.
//
// Implements the RFC 5321 4.1.2/4.1.3 grammar: Reverse-path, Forward-path,
// Mailbox with a Dot-string or Quoted-string local part, and a Domain or
// address literal ([1.2.3.4], [IPv6:...]; general address literals are
// refused, none being registered). A source route (<@a,@b:user@c>) is
// checked and dropped (RFC 5321 4.1.1.3, appendix C). Limits of 4.5.3.1:
// local part 64 octets, domain 255, whole path 256 including its brackets.
// Only US-ASCII is accepted (postern does not offer SMTPUTF8).
//
// The MAIL and RCPT argument parsers also read the ESMTP parameters
// (RFC 5321 4.1.2 esmtp-param) of the extensions the session offered:
// SIZE (RFC 1870), BODY (RFC 1652, RFC 3030), RET, ENVID, NOTIFY, ORCPT
// (RFC 3461) and AUTH (RFC 4954). A keyword that is unknown, belongs to the
// other command, belongs to an extension not offered, or appears twice is an
// error. Values keep the form they were received in (xtext is not decoded),
// except AUTH, whose xtext must decode to "<>" or a Mailbox (RFC 4954 5, 7).
// Nothing here looks anything up: domains are checked for syntax only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/status.h"
#include "lib/queue/envelope.h"

namespace postern {

// RFC 5321 4.5.3.1.
inline constexpr size_t kMaxLocalPart = 64;
inline constexpr size_t kMaxDomain = 255;
inline constexpr size_t kMaxPath = 256;
// RFC 3461 4.4 and 4.2.
inline constexpr size_t kMaxEnvid = 100;
inline constexpr size_t kMaxOrcptParameter = 500;

struct Mailbox {
  std::string local_part;  // as sent: a dot-string, or a quoted-string with its quotes
  std::string domain;      // a domain or "[address literal]"; empty only for <Postmaster>
  // "local@domain", or the local part alone for <Postmaster>.
  std::string ToString() const;
  bool operator==(const Mailbox&) const = default;
};

struct Path {
  bool null = false;  // "<>"
  Mailbox mailbox;    // empty when null
};

// Parses the path at the start of `text` ("<" ... ">"); on success
// *consumed is the length of the path text. RFC 5321 allows the null path
// <> only as a reverse path and <Postmaster> (any case) only as a forward
// path; the caller says which it reads. An error says what is wrong.
enum class PathKind { kReverse, kForward };
Result<Path> ParsePath(std::string_view text, PathKind kind, size_t* consumed);

// RFC 5321 Domain: dot-separated labels of letters, digits and inner
// hyphens, 63 octets a label, 255 in all.
bool IsValidDomain(std::string_view text);
// RFC 5321 address-literal including its brackets.
bool IsValidAddressLiteral(std::string_view text);
// The argument of EHLO/HELO: a Domain or an address literal, where labels
// may also hold '_' (common in Windows computer names).
bool IsValidHeloName(std::string_view text);

// The ESMTP extensions whose parameters the session accepts.
struct OfferedExtensions {
  bool size = false;          // SIZE=
  bool dsn = false;           // RET= ENVID= on MAIL, NOTIFY= ORCPT= on RCPT
  bool eightbitmime = false;  // BODY=7BIT, BODY=8BITMIME
  bool binarymime = false;    // BODY=7BIT, BODY=BINARYMIME
  bool auth = false;          // AUTH= (whenever the EHLO reply lists AUTH)
};

struct MailParameters {
  std::optional<uint64_t> size;  // UINT64_MAX for a number too large to hold
  BodyType body = BodyType::k7Bit;
  DsnRet ret = DsnRet::kUnspecified;
  std::string envid;  // xtext as received, or empty
  // RFC 4954 5 AUTH=, decoded: null for <>, else the mailbox. Whether the
  // session trusts it is the session's decision.
  std::optional<Path> auth;
};

struct RcptParameters {
  uint8_t notify = 0;  // NotifyFlag bits, 0 when NOTIFY was not given
  std::string orcpt;   // "addr-type;xtext" as received, or empty
};

// Why a MAIL or RCPT argument was refused; each maps to one MS-OXSMTP
// 3.2.5 table row.
enum class ArgumentError {
  kNone,
  kMissingColon,      // not "FROM:"/"TO:": 501 5.5.4 Unrecognized parameter
  kInvalidAddress,    // bad path, or <> in RCPT: 501 5.1.7 / 5.1.3 Invalid address
  kInvalidParameter,  // bad, unknown, unoffered or repeated parameter: 501 5.5.4
};

struct MailArguments {
  Path reverse_path;
  MailParameters parameters;
};

struct RcptArguments {
  Path forward_path;
  RcptParameters parameters;
};

// `argument` is what follows "MAIL " ("FROM:<path> [params]"). Spaces
// between the colon and the path are tolerated, as many clients send them.
ArgumentError ParseMailArguments(std::string_view argument, const OfferedExtensions& offered,
                                 MailArguments* out);
// `argument` is what follows "RCPT " ("TO:<path> [params]").
ArgumentError ParseRcptArguments(std::string_view argument, const OfferedExtensions& offered,
                                 RcptArguments* out);

}  // namespace postern
