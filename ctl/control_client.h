// ctl/control_client.h — one control request to master or qmgr, and the reply.
//
// Connects to a daemon's SOCK_STREAM control socket, sends one
// ipc::ControlRequest and reads one ipc::ControlReply
// (lib/ipc/messages_control.h). Blocking, with a bounded wait for the
// reply so a wedged daemon cannot hang the CLI forever.
#pragma once

#include <string>
#include <vector>

#include "lib/base/status.h"
#include "lib/ipc/messages_control.h"

namespace postern::cli {

// daemon_name ("master", "qmgr") only shapes error messages.
Result<ipc::ControlReply> SendControlRequest(const std::string& socket_path,
                                             const std::string& daemon_name,
                                             const std::string& verb,
                                             const std::vector<std::string>& args);

// Prints a reply: its text on stdout when ok, else an error carrying the text.
Status ReportReply(const ipc::ControlReply& reply);

}  // namespace postern::cli
