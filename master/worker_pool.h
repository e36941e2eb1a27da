// master/worker_pool.h — hands client connections to smtpd workers.
//
// Each worker is reached over its SOCK_SEQPACKET channel. A connection goes
// to the least-loaded worker that is not draining, with the descriptor
// attached (SCM_RIGHTS). master keeps its copy until the worker acknowledges
// and answers; a worker that has no descriptor left says so (kHandoffRefused)
// and the connection goes to another worker, or is refused with the 421 4.3.2
// of ConnectionCountExceeded when none can take it. A worker that does not
// acknowledge within handoff_timeout, or no worker at all, means
// NewConnectionNotAvailable: the client gets "421 4.4.2 Connection dropped".
// Every channel is a lib/ipc/datagram_channel: nothing sent to a worker is lost
// when its socket is full, and a worker that stops reading its channel is
// killed (and restarted by the supervisor) rather than left to drift.
// The pool also reports session ends to the connection table, connects
// chrooted workers to qmgr and authd on request, gives every worker master's
// one TLS session ticket key before its first connection (the same key for
// every generation, so a ticket survives a reload), and answers the check a
// worker makes before it accepts a MAIL FROM (kMailCheck, lib/policy/resource_check
// AnswerMailCheck): the server's resources, read at most once a second, then the
// message submission rate, counted in one RateLimiter for every worker so
// that a client meets the same count whichever worker serves it. Where that
// check could only say yes (a listener without message_rate_limit while
// resources are ample), the workers are told so (kMailCheckPolicy, again
// within a second of any change) and do not ask: a MAIL costs no round trip. It sums
// the messages and rejections the workers report (kSessionTally) and the
// clients master refuses over the last minute, for `postern status`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "lib/base/clock.h"
#include "lib/config/config.h"
#include "lib/ipc/datagram_channel.h"
#include "lib/ipc/messages_worker.h"
#include "lib/net/event_handles.h"
#include "lib/net/network.h"
#include "lib/policy/connection_admission.h"
#include "lib/policy/minute_tally.h"
#include "lib/policy/rate_limiter.h"
#include "lib/policy/resource_check.h"
#include "lib/policy/traffic_counters.h"
#include "lib/smtp/reply_catalogue.h"

namespace postern {

struct ClientConnection {
  int fd = -1;
  uint64_t conn_id = 0;
  std::string listener;
  IpAddress peer;
  uint16_t peer_port = 0;
  IpAddress local;
  uint16_t local_port = 0;
};

class WorkerPool {
 public:
  // resources is master's one monitor, shared with the check at connect so
  // that the server's resources are read at most once per interval; clock
  // dates each MAIL for the message rate. Both must outlive the pool.
  WorkerPool(event_base* base, const Clock* clock, ConnectionTable* table,
             ResourceMonitor* resources, std::string queue_socket_path,
             std::string auth_socket_path);
  ~WorkerPool();

  // Also tells the workers which MAIL checks they may now answer themselves.
  void SetConfig(const Config* config);
  // The session ticket key (lib/tls/tls_credentials.h GenerateTlsTicketKey) that
  // AddWorker() sends; set once, before the first worker.
  void SetTlsTicketKey(std::string key) { tls_ticket_key_ = std::move(key); }
  // Registers a worker and sends it the ticket key before anything else.
  void AddWorker(pid_t pid, int channel);
  void WorkerExited(pid_t pid);
  // Tells every current worker to finish its sessions and exit.
  void DrainAll();
  // Takes ownership of connection.fd.
  void Handoff(ClientConnection connection);
  size_t live_workers() const;
  struct WorkerLoad {
    size_t sessions = 0;
    bool draining = false;
  };
  // The sessions of the worker with that pid, or nullopt when it is none.
  std::optional<WorkerLoad> LoadOf(pid_t pid) const;
  // A client of listener that master refused before its banner with
  // reply_line: one rejection for `postern status` and metrics_listen.
  void CountRefusal(const std::string& listener, std::string_view reply_line) {
    rejections_.Add(clock_->Now());
    traffic_.RefusedAtConnect(listener, reply_line);
  }
  // The running totals of metrics_listen (lib/policy/traffic_counters.h).
  const TrafficCounters& traffic() const { return traffic_; }
  // What the workers reported (kSessionTally) and master refused, over the last minute.
  uint64_t MessagesLastMinute() const { return messages_.Sum(clock_->Now()); }
  uint64_t RejectionsLastMinute() const { return rejections_.Sum(clock_->Now()); }

 private:
  struct Worker {
    pid_t pid = 0;
    std::unique_ptr<DatagramChannel> channel;
    std::set<uint64_t> sessions;    // acknowledged connections
    size_t handoffs_in_flight = 0;  // sent, not yet acknowledged
    bool draining = false;
  };
  struct TimeoutContext {
    WorkerPool* pool;
    uint64_t conn_id;
  };
  struct Pending {
    ClientConnection connection;
    pid_t worker = 0;
    std::unique_ptr<TimeoutContext> context;
    EventPtr timeout;
  };

  static void OnHandoffTimeout(evutil_socket_t, short, void* context_ptr);
  // A frame that does not decode, or of a type master does not serve, is
  // the worker's failure: its channel fails and ChannelFailed() kills it.
  void Dispatch(Worker* worker, ipc::Datagram& datagram);
  Status Serve(Worker* worker, const ipc::Frame& frame);
  void ChannelFailed(Worker* worker, const std::string& why, bool peer_closed);
  // Forgets a hand-off that was not acknowledged; master still owns the fd.
  ClientConnection TakePending(std::map<uint64_t, Pending>::iterator it);
  // Hands on every connection sent to the worker and not acknowledged.
  void ReassignPending(pid_t worker);
  void Acknowledged(Worker* worker, uint64_t conn_id);
  // The worker could not receive the descriptor: another worker, or 421 4.3.2.
  void HandoffRefused(Worker* worker, uint64_t conn_id);
  // Hands the connection to the least-loaded worker other than exclude;
  // refuses it with reply when none can take it.
  void HandoffExcept(ClientConnection connection, pid_t exclude, const Reply& reply);
  void SessionClosed(Worker* worker, uint64_t conn_id);
  void ConnectService(Worker* worker, ipc::Service service);
  Result<int> ConnectServiceSocket(ipc::Service service) const;
  // Answers a MailCheck with a MailCheckReply.
  void ServeMailCheck(Worker* worker, const ipc::MailCheck& check);
  // Sends the workers a new MailCheckPolicy when the configuration or the
  // resource reading changed it; every kPolicyInterval and at SetConfig().
  void RefreshMailCheckPolicy();
  static void OnPolicyTimer(evutil_socket_t, short, void* self);
  bool TrySend(Worker* worker, const ClientConnection& connection);
  Worker* PickWorker(pid_t exclude);
  void Refuse(ClientConnection connection, const std::string& reply);
  // Sends message to worker; a failure is logged, naming what was sent.
  template <typename Message>
  void Send(Worker* worker, const Message& message, const char* what) {
    LogSendFailure(worker, worker->channel->Send(message), what);
  }
  void LogSendFailure(Worker* worker, const Status& sent, const char* what);

  event_base* base_;
  const Clock* clock_;
  ConnectionTable* table_;
  std::string queue_socket_path_;
  std::string auth_socket_path_;
  std::string tls_ticket_key_;
  const Config* config_ = nullptr;
  std::map<pid_t, Worker> workers_;
  std::map<uint64_t, Pending> pending_;
  RateLimiter rates_;
  ResourceMonitor* resources_;
  MinuteTally messages_;
  MinuteTally rejections_;
  TrafficCounters traffic_;
  // What the workers were last told (ipc::MailCheckPolicy); empty, "ask for
  // every MAIL", until the first configuration.
  ipc::MailCheckPolicy mail_policy_;
  EventPtr policy_timer_;
  static constexpr Duration kPolicyInterval = std::chrono::seconds(1);
};

}  // namespace postern
