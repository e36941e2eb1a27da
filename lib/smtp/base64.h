// lib/smtp/base64.h — strict base64 (RFC 4648 section 4) for SMTP AUTH.
//
// AUTH challenges and responses travel base64-encoded (RFC 4954 4). The
// decoder accepts only the canonical alphabet with correct padding and
// nothing else (no white space, no line breaks, no missing '='), so that a
// response has exactly one meaning; anything else is refused and the client
// is told 501.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace postern {

std::string Base64Encode(std::string_view bytes);

// The decoded bytes, or nothing when text is not canonical base64. The
// empty text decodes to the empty string.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace postern
