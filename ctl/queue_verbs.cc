// ctl/queue_verbs.cc — `postern queue list [--json] | show ID [--body] | flush`
// and `postern queue hold|release|delete|requeue ID|ALL`.
//
// Turns the operands into a control request to run_directory/qmgr-control.sock
// (qmgr owns the queue; the CLI never opens it) and writes qmgr's answer to
// stdout byte for byte: a long answer (a listing, a message's content) comes
// in pages, each asked for with the cursor the page before gave
// (lib/ipc/messages_control.h ControlReply::more). Queue ids are checked here
// so a typo never reaches qmgr as a key.
#include <cstdio>

#include "ctl/cli.h"
#include "ctl/control_client.h"
#include "lib/net/unix_socket.h"
#include "lib/queue/queue_id.h"

namespace postern::cli {
namespace {

const char kQueueUsage[] =
    "queue takes list [--json] | show ID [--body] | flush | hold|release|delete|requeue ID|ALL";

struct QueueRequest {
  std::string verb;
  std::vector<std::string> args;
};

bool TakesTarget(const std::string& verb) {
  return verb == "hold" || verb == "release" || verb == "delete" || verb == "requeue";
}

// Whether args are what verb takes (ids are checked apart).
bool FitsVerb(const std::string& verb, const std::vector<std::string>& args) {
  if (verb == "flush") return args.empty();
  if (verb == "list") return args.empty() || (args.size() == 1 && args[0] == "--json");
  if (verb == "show") return args.size() == 1 || (args.size() == 2 && args[1] == "--body");
  return TakesTarget(verb) && args.size() == 1;
}

// The request for the operands, or UsageError.
QueueRequest ParseQueueOperands(const std::vector<std::string>& operands) {
  if (operands.empty()) throw UsageError(kQueueUsage);
  QueueRequest request{operands[0], {operands.begin() + 1, operands.end()}};
  if (!FitsVerb(request.verb, request.args)) throw UsageError(kQueueUsage);
  return request;
}

Status CheckQueueId(const QueueRequest& request) {
  if (request.args.empty() || request.verb == "list") return Status::Ok();
  const std::string& id = request.args[0];
  if (TakesTarget(request.verb) && id == "ALL") return Status::Ok();
  if (!IsValidQueueId(id))
    return Status::Error("\"" + id + "\" is not a queue id (they look like 5F3A9C2B1D4E.1A2B.3)");
  return Status::Ok();
}

// Sends the request, then asks for every further page the replies announce;
// writes each page as it comes.
Status RunPaged(const std::string& socket_path, const QueueRequest& request) {
  std::vector<std::string> args = request.args;
  std::string cursor;
  for (;;) {
    Result<ipc::ControlReply> reply = SendControlRequest(socket_path, "qmgr", request.verb, args);
    if (!reply.ok()) return reply.status();
    if (!reply->ok) return ReportReply(*reply);
    if (fwrite(reply->text.data(), 1, reply->text.size(), stdout) != reply->text.size())
      return Status::Error("cannot write to standard output");
    if (reply->more.empty()) return Status::Ok();
    if (reply->more == cursor)
      return Status::Error("qmgr sent the page after " + cursor + " twice; output stopped");
    cursor = reply->more;
    args = request.args;
    args.push_back(cursor);
  }
}

}  // namespace

Status RunQueue(const Invocation& invocation) {
  QueueRequest request = ParseQueueOperands(invocation.operands);
  if (Status s = CheckQueueId(request); !s.ok()) return s;
  Result<Config> config = LoadCliConfig(invocation);
  if (!config.ok()) return config.status();
  return RunPaged(QueueControlSocket(config->run_directory), request);
}

}  // namespace postern::cli
