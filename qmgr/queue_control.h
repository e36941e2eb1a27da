// qmgr/queue_control.h — the queue control verbs behind `postern queue`.
//
// Answers one kControlRequest: ping, list, show ID, delete ID|ALL, hold ID,
// release ID, flush, and space (master's question for its early refusal:
// lib/policy/resource_check.h FormatQueueSpace). Changes are committed before the reply is sent.
// The reply must fit one IPC frame, so long listings and message content are cut at kMaxControlText
// with a note saying how much was left out. Never writes message content to the log.
#pragma once

#include <string>
#include <vector>

#include "lib/ipc/messages_control.h"
#include "lib/queue/queue_store.h"
#include "qmgr/queue_manager.h"

namespace postern {

constexpr size_t kMaxControlText = ipc::kMaxPayload - 1024;

ipc::ControlReply RunControl(QueueManager* manager, const std::string& verb,
                             const std::vector<std::string>& args);

// One line per message: id, active|held, size, arrival time (UTC), sender,
// then each recipient with its state (pending, deferred, delivered,
// failed); then a summary line.
std::string FormatQueueList(const std::vector<StoredMessage>& messages);

}  // namespace postern
