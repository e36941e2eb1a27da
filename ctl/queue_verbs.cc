// ctl/queue_verbs.cc — `postern queue list|show|flush|hold|release|delete`.
//
// Turns the operands into one control request to run_directory/qmgr.sock
// (qmgr owns the queue; the CLI never opens it) and prints qmgr's answer.
// Queue ids are checked here so a typo never reaches qmgr as a key.
#include "ctl/cli.h"
#include "ctl/control_client.h"
#include "lib/queue/queue_id.h"

namespace postern::cli {
namespace {

const char kQueueUsage[] =
    "queue takes list | show ID | flush | hold ID | release ID | delete ID|ALL";

struct QueueRequest {
  std::string verb;
  std::vector<std::string> args;
};

// The request for the operands, or UsageError.
QueueRequest ParseQueueOperands(const std::vector<std::string>& operands) {
  if (operands.empty()) throw UsageError(kQueueUsage);
  const std::string& verb = operands[0];
  std::vector<std::string> args(operands.begin() + 1, operands.end());
  bool takes_id = verb == "show" || verb == "hold" || verb == "release" || verb == "delete";
  bool takes_nothing = verb == "list" || verb == "flush";
  if ((takes_id && args.size() != 1) || (takes_nothing && !args.empty()) ||
      (!takes_id && !takes_nothing))
    throw UsageError(kQueueUsage);
  return {verb, args};
}

Status CheckQueueId(const QueueRequest& request) {
  if (request.args.empty()) return Status::Ok();
  const std::string& id = request.args[0];
  if (request.verb == "delete" && id == "ALL") return Status::Ok();
  if (!IsValidQueueId(id))
    return Status::Error("\"" + id + "\" is not a queue id (they look like 5F3A9C2B1D4E.1A2B.3)");
  return Status::Ok();
}

}  // namespace

Status RunQueue(const Invocation& invocation) {
  QueueRequest request = ParseQueueOperands(invocation.operands);
  if (Status s = CheckQueueId(request); !s.ok()) return s;
  Result<Config> config = LoadCliConfig(invocation);
  if (!config.ok()) return config.status();
  Result<ipc::ControlReply> reply =
      SendControlRequest(config->run_directory + "/qmgr.sock", "qmgr", request.verb, request.args);
  if (!reply.ok()) return reply.status();
  return ReportReply(*reply);
}

}  // namespace postern::cli
