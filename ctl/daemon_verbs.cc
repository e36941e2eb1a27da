// ctl/daemon_verbs.cc — start, start-fg, stop, reload, status and block.
//
// The verbs that act on a running (or to-be-running) master. All but the
// two start verbs go through run_directory/master.sock (status also asks
// qmgr-control.sock for the queue's depth); none of them signals a process or
// touches master's files other than reading master.pid.
#include <chrono>

#include "ctl/cli.h"
#include "ctl/control_client.h"
#include "ctl/master_process.h"
#include "lib/config/install_dirs.h"
#include "lib/ipc/status_report.h"
#include "lib/net/unix_socket.h"

namespace postern::cli {
namespace {

// After master has accepted `stop` it waits up to shutdown_grace for live
// sessions, then stops its children; this margin covers that last part.
constexpr std::chrono::seconds kStopMargin{10};

std::string MasterSocket(const Config& config) { return config.run_directory + "/master.sock"; }

std::string MasterPath(const Config& config) { return DaemonDirectory(config) + "/master"; }

Status RefuseIfRunning(const Config& config) {
  if (std::optional<pid_t> pid = LiveMasterPid(config.run_directory))
    return Status::Error("master is already running (pid " + std::to_string(*pid) + ", from " +
                         MasterPidFile(config.run_directory) + ")");
  return Status::Ok();
}

// Sends verb to a running master and reports its reply; sets *pid to master's pid.
Status AskMaster(const Config& config, const std::string& verb,
                 const std::vector<std::string>& args, pid_t* pid) {
  std::optional<pid_t> live = LiveMasterPid(config.run_directory);
  if (!live) return MasterNotRunning(config.run_directory);
  if (pid != nullptr) *pid = *live;
  Result<ipc::ControlReply> reply = SendControlRequest(MasterSocket(config), "master", verb, args);
  if (!reply.ok()) return reply.status();
  return ReportReply(*reply);
}

Status SimpleMasterVerb(const Invocation& invocation, const std::string& verb) {
  ExpectOperands(invocation, 0);
  Result<Config> config = LoadCliConfig(invocation);
  if (!config.ok()) return config.status();
  return AskMaster(*config, verb, {}, nullptr);
}

// qmgr's count of the queue by state; an error says why there is none.
Result<QueueDepth> AskQueueDepth(const Config& config) {
  Result<ipc::ControlReply> reply =
      SendControlRequest(QueueControlSocket(config.run_directory), "qmgr", "depth", {});
  if (!reply.ok()) return reply.status();
  if (!reply->ok) return Status::Error("qmgr refused: " + reply->text);
  return ParseQueueDepth(reply->text);
}

// The control-request arguments for a block operand list, or UsageError.
std::vector<std::string> BlockArguments(const std::vector<std::string>& operands) {
  const std::string sub = operands.empty() ? "" : operands[0];
  if (sub == "list" && operands.size() == 1) return operands;
  if (sub == "del" && operands.size() == 2) return operands;
  if (sub == "add" && operands.size() == 2) return operands;
  if (sub == "add" && operands.size() == 4 && operands[2] == "--for")
    return {"add", operands[1], operands[3]};
  throw UsageError("block takes add ADDR [--for DURATION] | del ADDR | list");
}

}  // namespace

Status RunStart(const Invocation& invocation) {
  ExpectOperands(invocation, 0);
  Result<Config> config = LoadCliConfig(invocation);
  if (!config.ok()) return config.status();
  if (Status s = RefuseIfRunning(*config); !s.ok()) return s;
  WarnAboutSettings(*config);
  return StartMasterDaemon(MasterPath(*config), invocation.config_dir);
}

Status RunStartForeground(const Invocation& invocation) {
  ExpectOperands(invocation, 0);
  Result<Config> config = LoadCliConfig(invocation);
  if (!config.ok()) return config.status();
  if (Status s = RefuseIfRunning(*config); !s.ok()) return s;
  WarnAboutSettings(*config);
  return ExecMasterForeground(MasterPath(*config), invocation.config_dir);
}

Status RunStop(const Invocation& invocation) {
  ExpectOperands(invocation, 0);
  Result<Config> config = LoadCliConfig(invocation);
  if (!config.ok()) return config.status();
  pid_t pid = 0;
  if (Status s = AskMaster(*config, "stop", {}, &pid); !s.ok()) return s;
  auto timeout = config->shutdown_grace + kStopMargin;
  if (!WaitForExit(pid, std::chrono::duration_cast<std::chrono::milliseconds>(timeout)))
    return Status::Error(
        "master (pid " + std::to_string(pid) + ") accepted stop but is still running after " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) + " s");
  return Status::Ok();
}

Status RunReload(const Invocation& invocation) { return SimpleMasterVerb(invocation, "reload"); }

// master's report and qmgr's queue depth, as text or one JSON object. The
// report stands without qmgr (the queue is then unknown, JSON null): a
// status that failed whenever qmgr restarts would hide the rest.
Status RunStatus(const Invocation& invocation) {
  const std::vector<std::string>& operands = invocation.operands;
  if (operands.size() > 1 || (operands.size() == 1 && operands[0] != "--json"))
    throw UsageError("status takes no operands or --json");
  const bool json = operands.size() == 1;
  Result<Config> config = LoadCliConfig(invocation);
  if (!config.ok()) return config.status();
  if (!LiveMasterPid(config->run_directory)) return MasterNotRunning(config->run_directory);
  Result<ipc::ControlReply> reply =
      SendControlRequest(MasterSocket(*config), "master", "status", {});
  if (!reply.ok()) return reply.status();
  if (!reply->ok) return ReportReply(*reply);
  Result<StatusReport> report = DecodeStatusReport(reply->text);
  if (!report.ok()) return Status::Error("master sent a " + report.status().message());
  Result<QueueDepth> depth = AskQueueDepth(*config);
  if (depth.ok()) report->queue = *depth;
  PrintText(json ? RenderStatusJson(*report)
                 : RenderStatusText(*report, depth.ok() ? "" : depth.status().message()));
  return Status::Ok();
}

Status RunBlock(const Invocation& invocation) {
  std::vector<std::string> args = BlockArguments(invocation.operands);
  Result<Config> config = LoadCliConfig(invocation);
  if (!config.ok()) return config.status();
  return AskMaster(*config, "block", args, nullptr);
}

}  // namespace postern::cli
