// lib/config/config_rules.h — checks of postern.conf beyond a value's syntax.
//
// The parser (lib/config/config.cc) applies these while it reads, so that
// `postern check`, master's start and every reload refuse the same file:
//   - an indented line that reads `known_key = value` is a key the
//     administrator indented by mistake, not a continuation of the line
//     above (LooksLikeKeyLine);
//   - myhostname must be a host name (RFC 1123 labels, the RFC 5321 Domain
//     syntax of lib/smtp/smtp_address IsValidDomain);
//   - auth_mechanisms may name only what authd serves (kServedAuthMechanisms);
//   - an unknown key is answered with the nearest known key, when one is
//     close enough to be the one meant (NearestKeyName).
// Pure functions of their arguments and the key table.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern {

// The SASL mechanisms authd serves (MS-OXSMTP: [MS-SMTP] NTLM, [MS-XLOGIN] LOGIN).
inline constexpr std::string_view kServedAuthMechanisms[] = {"NTLM", "LOGIN"};

// The key named by text when it reads `known_key = value` (blanks allowed
// around the `=`), else nullopt. text is a line without its indentation.
std::optional<std::string_view> LooksLikeKeyLine(std::string_view text);

// Why name is not a host name, or nullopt when it is one.
std::optional<std::string> HostNameProblem(std::string_view name);

// The words of mechanisms that authd does not serve (compared without
// regard to case), in their order.
std::vector<std::string> UnservedAuthMechanisms(const std::vector<std::string>& mechanisms);

// The known key nearest to typed (compared in lower case; an adjacent
// transposition counts as one edit), when it is at most one edit away for a
// name of up to 4 characters, two for up to 10 and three for longer ones;
// nullopt when no key is that close. Ties go to the key listed first.
std::optional<std::string_view> NearestKeyName(std::string_view typed);

// Optimal string alignment distance: insertions, deletions, substitutions
// and transpositions of adjacent characters, one edit each.
size_t EditDistance(std::string_view a, std::string_view b);

}  // namespace postern
