// qmgr/queue_control.h — the queue control verbs behind `postern queue`.
//
// Answers one kControlRequest: ping; list [--json] [CURSOR]; show ID
// [--body [OFFSET]]; delete, hold, release and requeue ID|ALL; flush;
// depth (`postern status`); metrics (master's question for metrics_listen:
// lib/queue/queue_metrics.h); and space (master's question for its early
// refusal: lib/policy/resource_check.h FormatQueueSpace). Changes are committed
// before the reply is sent.
//
// A reply must fit one IPC frame (kMaxControlText of text), so long answers
// come in pages (lib/ipc/messages_control.h ControlReply::more): a listing
// in pages of whole messages whose cursor is the last queue id shown
// (lib/queue/queue_listing.h); a message's content in pages whose cursor is
// the offset of the next byte, so that `postern queue show ID --body` prints
// a message of any size whole. The first page of `show ID --body` is the
// envelope, an empty line and the content from its start. A message that
// leaves the queue between two pages ends the answer with an error. Never
// writes message content to the log.
#pragma once

#include <string>
#include <vector>

#include "lib/ipc/messages_control.h"
#include "qmgr/queue_manager.h"

namespace postern {

// Room for the reply's other fields within ipc::kMaxPayload.
constexpr size_t kMaxControlText = ipc::kMaxPayload - 1024;

ipc::ControlReply RunControl(QueueManager* manager, const std::string& verb,
                             const std::vector<std::string>& args);

}  // namespace postern
