// ctl/password_input.h — reading a new password for `postern user`.
//
// From a pipe or file: the first line of standard input, without its line
// ending (a trailing "\n", and a "\r" before it). From a terminal: a prompt
// on stderr, echo off, asked twice. Never echoes, logs or returns the
// password inside an error message.
#pragma once

#include <string>

#include "lib/base/status.h"

namespace postern::cli {

// `account` ("alice@mail.example.test") only appears in the prompt.
Result<std::string> ReadNewPassword(const std::string& account);

}  // namespace postern::cli
