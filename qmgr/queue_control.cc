// qmgr/queue_control.cc — the queue control verbs of qmgr/queue_control.h.
#include "qmgr/queue_control.h"

#include <algorithm>
#include <ctime>

#include "lib/base/printable.h"
#include "lib/queue/queue_id.h"

namespace postern {
namespace {

std::string Utc(int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm_utc;
  gmtime_r(&t, &tm_utc);
  char text[32];
  strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
  return text;
}

const char* StateName(const Recipient& r) {
  switch (r.state) {
    case RecipientState::kPending:
      return r.last_error.empty() ? "pending" : "deferred";
    case RecipientState::kDelivered:
      return "delivered";
    case RecipientState::kFailed:
      return "failed";
  }
  return "?";
}

const char* BodyName(BodyType body) {
  switch (body) {
    case BodyType::k7Bit:
      return "7BIT";
    case BodyType::k8BitMime:
      return "8BITMIME";
    case BodyType::kBinaryMime:
      return "BINARYMIME";
  }
  return "?";
}

const char* RetName(DsnRet ret) {
  switch (ret) {
    case DsnRet::kUnspecified:
      return "unspecified";
    case DsnRet::kFull:
      return "FULL";
    case DsnRet::kHeaders:
      return "HDRS";
  }
  return "?";
}

ipc::ControlReply Ok(std::string text) { return ipc::ControlReply{true, std::move(text)}; }
ipc::ControlReply Fail(std::string text) { return ipc::ControlReply{false, std::move(text)}; }

std::string Describe(const StoredMessage& m) {
  const Envelope& e = m.envelope;
  std::string text = "queue_id: " + e.queue_id + "\nstatus: " + (m.held ? "held" : "active") +
                     "\narrival_time: " + Utc(e.arrival_time) +
                     "\nsize: " + std::to_string(e.size) + "\nsender: <" + Printable(e.sender) +
                     ">\n";
  for (const Recipient& r : e.recipients) {
    text += "recipient: <" + Printable(r.address) + "> " + StateName(r);
    if (!r.last_error.empty()) text += " (" + Printable(r.last_error) + ")";
    text += "\n";
  }
  text += std::string("body: ") + BodyName(e.body) + "\nret: " + RetName(e.ret) +
          "\nenvid: " + Printable(e.envid) + "\nclient: " + Printable(e.client_address) + " [" +
          Printable(e.client_helo) + "]\nauth_user: " + Printable(e.auth_user) +
          "\nauth_mailbox: " + Printable(e.auth_mailbox) + "\nlistener: " + Printable(e.listener) +
          "\n\n";
  return text;
}

ipc::ControlReply Show(QueueManager* manager, const std::string& id) {
  Result<std::optional<StoredMessage>> message = manager->store().GetMessage(id);
  if (!message.ok()) return Fail(message.status().message());
  if (!message->has_value()) return Fail("no message " + id + " in the queue");
  std::string text = Describe(**message);
  uint64_t omitted = 0;
  Status read = manager->store().ReadContent(id, [&](std::string_view chunk) {
    size_t room = kMaxControlText - std::min(text.size(), kMaxControlText);
    text.append(chunk.substr(0, room));
    omitted += chunk.size() - std::min(room, chunk.size());
    return Status::Ok();
  });
  if (!read.ok()) return Fail(read.message());
  if (omitted > 0) text += "\n[... " + std::to_string(omitted) + " more bytes not shown]\n";
  return Ok(std::move(text));
}

ipc::ControlReply Delete(QueueManager* manager, const std::string& target) {
  std::vector<std::string> ids;
  if (target == "ALL") {
    ids = manager->QueuedIds();
  } else if (!manager->Contains(target)) {
    return Fail("no message " + target + " in the queue");
  } else {
    ids.push_back(target);
  }
  if (Status s = manager->Delete(ids); !s.ok()) return Fail(s.message());
  return Ok("deleted " + std::to_string(ids.size()) + " message(s)\n");
}

ipc::ControlReply Hold(QueueManager* manager, const std::string& id, bool held) {
  if (!manager->Contains(id)) return Fail("no message " + id + " in the queue");
  if (Status s = manager->SetHold(id, held); !s.ok()) return Fail(s.message());
  return Ok(id + (held ? " held\n" : " released\n"));
}

}  // namespace

std::string FormatQueueList(const std::vector<StoredMessage>& messages) {
  if (messages.empty()) return "Mail queue is empty\n";
  std::string text;
  uint64_t bytes = 0;
  size_t shown = 0;
  for (const StoredMessage& m : messages) {
    const Envelope& e = m.envelope;
    std::string line = e.queue_id + " " + (m.held ? "held" : "active") + " " +
                       std::to_string(e.size) + " " + Utc(e.arrival_time) + " <" +
                       Printable(e.sender) + ">";
    for (const Recipient& r : e.recipients)
      line += " <" + Printable(r.address) + ">:" + StateName(r);
    line += "\n";
    bytes += e.size;
    if (text.size() + line.size() > kMaxControlText - 200) continue;
    text += line;
    ++shown;
  }
  if (shown < messages.size())
    text += "[... " + std::to_string(messages.size() - shown) + " more messages not shown]\n";
  text += "-- " + std::to_string(messages.size()) + " message(s), " + std::to_string(bytes) +
          " bytes\n";
  return text;
}

ipc::ControlReply RunControl(QueueManager* manager, const std::string& verb,
                             const std::vector<std::string>& args) {
  const bool takes_id = verb == "show" || verb == "delete" || verb == "hold" || verb == "release";
  const bool takes_nothing = verb == "ping" || verb == "list" || verb == "flush" || verb == "space";
  if (!takes_id && !takes_nothing)
    return Fail("qmgr knows no control verb \"" + Printable(verb) + "\"");
  if (takes_nothing && !args.empty()) return Fail(verb + " takes no arguments");
  if (takes_id && args.size() != 1) return Fail(verb + " takes one queue id");
  if (takes_id && !(verb == "delete" && args[0] == "ALL") && !IsValidQueueId(args[0]))
    return Fail("\"" + Printable(args[0]) + "\" is not a queue id");

  if (verb == "ping") return Ok("pong\n");
  if (verb == "space") return Ok(FormatQueueSpace(manager->Space()));
  if (verb == "list") {
    Result<std::vector<StoredMessage>> messages = manager->store().ListMessages();
    if (!messages.ok()) return Fail(messages.status().message());
    return Ok(FormatQueueList(*messages));
  }
  if (verb == "flush")
    return Ok(std::to_string(manager->Flush()) + " message(s) scheduled for delivery\n");
  if (verb == "show") return Show(manager, args[0]);
  if (verb == "delete") return Delete(manager, args[0]);
  return Hold(manager, args[0], verb == "hold");
}

}  // namespace postern
