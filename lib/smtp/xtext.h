// lib/smtp/xtext.h — RFC 3461 4 xtext, the encoding of ENVID, ORCPT and AUTH=.
//
// smtpd checks that those parameters are xtext and keeps them as received;
// a DSN and the AUTH= check need the octets they stand for, and the SMTP
// client encodes AUTH= when it relays.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace postern {

// xchar is "!" to "~" but "+" and "="; hexchar is "+" and two upper-case
// hex digits. Returns the decoded octets, or nothing when the text is not
// xtext.
std::optional<std::string> DecodeXtext(std::string_view text);

inline bool IsXtext(std::string_view text) { return DecodeXtext(text).has_value(); }

// The xtext of bytes: "+", "=" and every octet outside "!" to "~" as "+"
// and two upper-case hex digits (the client's AUTH= and such).
std::string EncodeXtext(std::string_view bytes);

}  // namespace postern
