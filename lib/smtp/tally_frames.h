// lib/smtp/tally_frames.h — the kSessionTally frames that carry what a
// worker's sessions of one listener counted (ServerSession::Tally) to master.
//
// A worker sums its sessions' tallies and sends them a few times a second,
// not one datagram per message. A frame holds at most
// ipc::SessionTally::kMaxRefusalKinds kinds of refusal, so a sum of many
// kinds goes in several frames; each frame's rejections are the sum of its
// own refusals, so master's totals come out the same.
#pragma once

#include <string>
#include <vector>

#include "lib/ipc/messages_worker.h"
#include "lib/smtp/server_session.h"

namespace postern {

std::vector<ipc::SessionTally> TallyFrames(const std::string& listener,
                                           const ServerSession::Tally& tally);

}  // namespace postern
