// ctl/control_client.h — one control request to master or qmgr, and the reply.
//
// Connects to a daemon's SOCK_STREAM control socket, sends one
// kControlRequest (str verb, u32 argc, argc x str) and reads one
// kControlReply (u8 ok, str text). Blocking, with a bounded wait for the
// reply so a wedged daemon cannot hang the CLI forever.
#pragma once

#include <string>
#include <vector>

#include "lib/base/status.h"

namespace postern::cli {

struct DaemonReply {
  bool ok = false;
  std::string text;
};

// daemon_name ("master", "qmgr") only shapes error messages.
Result<DaemonReply> SendControlRequest(const std::string& socket_path,
                                       const std::string& daemon_name, const std::string& verb,
                                       const std::vector<std::string>& args);

// Prints a reply: its text on stdout when ok, else an error carrying the text.
Status ReportReply(const DaemonReply& reply);

}  // namespace postern::cli
