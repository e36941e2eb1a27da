// ctl/password_input.cc — see ctl/password_input.h.
#include "ctl/password_input.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace postern::cli {
namespace {

// Turns terminal echo off for its lifetime, and back on even on error paths.
class EchoOff {
 public:
  EchoOff() {
    if (tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    active_ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  ~EchoOff() {
    if (active_) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

Result<std::string> ReadLine() {
  std::string line;
  if (!std::getline(std::cin, line) && line.empty())
    return Status::Error("no password on standard input");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Result<std::string> Prompted(const std::string& prompt) {
  fputs(prompt.c_str(), stderr);
  fflush(stderr);
  Result<std::string> line = [] {
    EchoOff quiet;
    return ReadLine();
  }();
  fputc('\n', stderr);
  return line;
}

}  // namespace

Result<std::string> ReadNewPassword(const std::string& account) {
  if (!isatty(STDIN_FILENO)) return ReadLine();
  Result<std::string> first = Prompted("Password for " + account + ": ");
  if (!first.ok()) return first;
  Result<std::string> second = Prompted("Again: ");
  if (!second.ok()) return second;
  if (*first != *second) return Status::Error("the two passwords differ; nothing changed");
  return first;
}

}  // namespace postern::cli
