// lib/ipc/messages_control.h — the messages between the postern CLI and the
// control sockets of master and qmgr.
//
// One ControlRequest and one ControlReply per connection. Both daemons decode
// requests with the one Decode() below, so they refuse the same requests
// (more than kMaxControlArgs arguments, a payload cut short or with bytes
// left over) by closing the connection; the CLI reports a reply that does not
// decode as an error of the daemon.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"
#include "lib/ipc/frame.h"

namespace postern::ipc {

// No verb takes more than a few; a request with more is not from our CLI.
constexpr size_t kMaxControlArgs = 64;

// CLI -> master or qmgr: str verb, u32 argc, argc x str.
struct ControlRequest {
  static constexpr MsgType kType = MsgType::kControlRequest;
  std::string verb;
  std::vector<std::string> args;

  std::string Encode() const;
  static Result<ControlRequest> Decode(std::string_view payload);
  bool operator==(const ControlRequest&) const = default;
};

// master or qmgr -> CLI: bool ok, str text (printed by the CLI as is; on
// failure, the reason), str more. An answer too long for one frame comes in
// pages: `more` is then a cursor, and the same request with `more` added as
// its last argument gives the next page; empty on the last (or only) page.
struct ControlReply {
  static constexpr MsgType kType = MsgType::kControlReply;
  bool ok = false;
  std::string text;
  std::string more{};

  std::string Encode() const;
  static Result<ControlReply> Decode(std::string_view payload);
  bool operator==(const ControlReply&) const = default;
};

}  // namespace postern::ipc
