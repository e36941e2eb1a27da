// qmgr/queue_control.cc — the queue control verbs of qmgr/queue_control.h.
#include "qmgr/queue_control.h"

#include <algorithm>
#include <optional>

#include "lib/base/printable.h"
#include "lib/queue/queue_id.h"
#include "lib/queue/queue_listing.h"

namespace postern {
namespace {

ipc::ControlReply Ok(std::string text, std::string more = "") {
  return ipc::ControlReply{true, std::move(text), std::move(more)};
}
ipc::ControlReply Fail(std::string text) { return ipc::ControlReply{false, std::move(text)}; }

std::string NotQueued(const std::string& id) { return "no message " + id + " in the queue"; }

// The content of a page's CURSOR argument: a decimal byte offset.
std::optional<uint64_t> ParseOffset(const std::string& text) {
  if (text.empty() || text.size() > 19 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return std::stoull(text);
}

ipc::ControlReply List(QueueManager* manager, const std::vector<std::string>& args) {
  size_t next = 0;
  const bool json = next < args.size() && args[next] == "--json";
  if (json) ++next;
  std::string after;
  if (next < args.size()) after = args[next++];
  if (next != args.size() || (!after.empty() && !IsValidQueueId(after)))
    return Fail("list takes [--json] [CURSOR]");
  Result<std::vector<StoredMessage>> messages = manager->store().ListMessages();
  if (!messages.ok()) return Fail(messages.status().message());
  Result<ListingPage> page =
      ListQueuePage(*messages, json ? ListingFormat::kJson : ListingFormat::kText, after,
                    kMaxControlText, manager->Schedule(), manager->WallNow());
  if (!page.ok()) return Fail(page.status().message());
  return Ok(std::move(page->text), std::move(page->more));
}

ipc::ControlReply Show(QueueManager* manager, const std::vector<std::string>& args) {
  const std::string& id = args[0];
  const bool body = args.size() >= 2;
  if ((body && args[1] != "--body") || args.size() > 3)
    return Fail("show takes ID [--body [OFFSET]]");
  Result<std::optional<StoredMessage>> message = manager->store().GetMessage(id);
  if (!message.ok()) return Fail(message.status().message());
  if (!message->has_value()) return Fail(NotQueued(id));
  const uint64_t size = (*message)->envelope.size;
  std::string text;
  uint64_t offset = 0;
  if (args.size() == 3) {
    std::optional<uint64_t> parsed = ParseOffset(args[2]);
    if (!parsed || *parsed > size)
      return Fail("\"" + Printable(args[2]) + "\" is not an offset into the " +
                  std::to_string(size) + " bytes of " + id);
    offset = *parsed;
  } else {
    text = DescribeMessage(**message, manager->Schedule(), manager->WallNow());
    if (!body) return Ok(std::move(text));
    text += "\n";
  }
  const size_t room = kMaxControlText - std::min(text.size(), kMaxControlText);
  Result<std::string> page = manager->store().ReadRange(id, offset, room, size);
  if (!page.ok()) return Fail(page.status().message());
  text += *page;
  const uint64_t end = offset + page->size();
  return Ok(std::move(text), end < size ? std::to_string(end) : "");
}

// The ids a verb's ID|ALL operand names, or the failure to report.
Result<std::vector<std::string>> Targets(const QueueManager& manager, const std::string& target) {
  if (target == "ALL") return manager.QueuedIds();
  if (!manager.Contains(target)) return Status::Error(NotQueued(target));
  return std::vector<std::string>{target};
}

std::string Count(size_t count) { return std::to_string(count) + " message(s)"; }

ipc::ControlReply Delete(QueueManager* manager, const std::string& target) {
  Result<std::vector<std::string>> ids = Targets(*manager, target);
  if (!ids.ok()) return Fail(ids.status().message());
  if (Status s = manager->Delete(*ids); !s.ok()) return Fail(s.message());
  return Ok("deleted " + Count(ids->size()) + "\n");
}

ipc::ControlReply Hold(QueueManager* manager, const std::string& target, bool held) {
  const char* done = held ? "held" : "released";
  if (target != "ALL") {
    if (!manager->Contains(target)) return Fail(NotQueued(target));
    if (Status s = manager->SetHold(target, held); !s.ok()) return Fail(s.message());
    return Ok(target + " " + done + "\n");
  }
  Result<size_t> changed = manager->SetHolds(manager->QueuedIds(), held);
  if (!changed.ok()) return Fail(changed.status().message());
  return Ok(std::string(done) + " " + Count(*changed) + "\n");
}

ipc::ControlReply Requeue(QueueManager* manager, const std::string& target) {
  Result<std::vector<std::string>> ids = Targets(*manager, target);
  if (!ids.ok()) return Fail(ids.status().message());
  size_t dispatched = manager->Requeue(*ids);
  return Ok("requeued " + Count(ids->size()) + ", " + std::to_string(dispatched) +
            " handed to delivery now\n");
}

}  // namespace

ipc::ControlReply RunControl(QueueManager* manager, const std::string& verb,
                             const std::vector<std::string>& args) {
  const bool takes_target =
      verb == "delete" || verb == "hold" || verb == "release" || verb == "requeue";
  const bool takes_nothing =
      verb == "ping" || verb == "flush" || verb == "space" || verb == "depth" || verb == "metrics";
  if (!takes_target && !takes_nothing && verb != "list" && verb != "show")
    return Fail("qmgr knows no control verb \"" + Printable(verb) + "\"");
  if (takes_nothing && !args.empty()) return Fail(verb + " takes no arguments");
  if (takes_target && args.size() != 1) return Fail(verb + " takes one queue id or ALL");
  if (verb == "show" && args.empty()) return Fail("show takes a queue id");
  if ((takes_target || verb == "show") && !(takes_target && args[0] == "ALL") &&
      !IsValidQueueId(args[0]))
    return Fail("\"" + Printable(args[0]) + "\" is not a queue id");

  if (verb == "ping") return Ok("pong\n");
  if (verb == "space") return Ok(FormatQueueSpace(manager->Space()));
  if (verb == "depth") return Ok(FormatQueueDepth(manager->Depth()));
  if (verb == "metrics") return Ok(manager->MetricsText());
  if (verb == "list") return List(manager, args);
  if (verb == "flush")
    return Ok(std::to_string(manager->Flush()) + " message(s) scheduled for delivery\n");
  if (verb == "show") return Show(manager, args);
  if (verb == "delete") return Delete(manager, args[0]);
  if (verb == "requeue") return Requeue(manager, args[0]);
  return Hold(manager, args[0], verb == "hold");
}

}  // namespace postern
