// master/supervisor.h — starts, watches and restarts master's children.
//
// Children: one qmgr (exec'd as root with its message socket on fd 3 and its
// control socket on fd 4; it drops to queue_user itself), one authd (exec'd
// after dropping to auth_user, with its socket on fd 3) and smtpd_workers smtpd processes (exec'd
// as root with their master channel on fd 3; smtpd chroots and drops
// privileges itself), and, with metrics_listen, one metricsd (exec'd as
// root with its master channel on fd 3 and the TCP socket on fd 4; it
// chroots and drops to smtpd_user itself). A child that exits unexpectedly is restarted (an smtpd
// of the current generation even when it exits with status 0: only a drained
// worker of an older generation is meant to go); one that
// dies soon after starting is restarted after a back-off that doubles up to
// a minute, so a broken service throttles instead of looping.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lib/base/clock.h"
#include "lib/base/privileges.h"
#include "lib/config/config.h"
#include "lib/net/event_handles.h"

namespace postern {

enum class ChildKind { kQueue, kAuth, kMetrics, kSmtpd };

struct ChildUsers {
  UserIdentity smtpd, queue, auth;  // unused when not root
};

// The listening sockets master made for its services (run_directory/*.sock).
struct ServiceSockets {
  int queue = -1;          // qmgr.sock: message streams (smtpd)
  int queue_control = -1;  // qmgr-control.sock: queue control verbs (CLI, master)
  int auth = -1;           // authd.sock
  int metrics = -1;        // metrics_listen's TCP socket; -1: no metricsd
};

class Supervisor {
 public:
  struct Hooks {
    // A new smtpd runs; channel is master's end of its SOCK_SEQPACKET pair.
    std::function<void(pid_t pid, int channel)> smtpd_started;
    std::function<void(pid_t pid)> smtpd_exited;
    // A new metricsd runs; channel is master's end of its SOCK_SEQPACKET pair.
    std::function<void(pid_t pid, int channel)> metrics_started;
    // Every child has exited after Stop*().
    std::function<void()> all_exited;
  };

  // clock must outlive the supervisor; it dates each child's start.
  Supervisor(event_base* base, const Clock* clock, ChildUsers users, ServiceSockets sockets,
             Hooks hooks);
  ~Supervisor();

  void SetConfig(const Config* config) { config_ = config; }
  Status StartAll();
  // Starts a fresh set of smtpd workers (reload); the pool drains the old ones.
  Status StartSmtpdGeneration();
  // Sends signo to qmgr, authd and metricsd (SIGHUP: re-read the
  // configuration; SIGTERM: stop).
  void SignalServices(int signo);
  // No more restarts; signal every child of the kinds given.
  void StopRestarting() { stopping_ = true; }
  void SignalKind(ChildKind kind, int signo);
  // For a failed start: SIGTERM every child and reap it, SIGKILL what is
  // left after timeout. Blocks; the event loop is not running yet.
  void TerminateAllAndWait(Duration timeout);
  size_t CountKind(ChildKind kind) const;
  struct ChildEntry {
    pid_t pid;
    ChildKind kind;
    const char* name;  // "qmgr", "authd", "smtpd": the program's name
  };
  // Every running child once: qmgr, authd, metricsd, then the smtpd
  // workers, each kind by pid.
  std::vector<ChildEntry> Children() const;

 private:
  struct Child {
    ChildKind kind;
    TimePoint started;
    uint32_t generation;  // of smtpd workers: one per start or reload
  };
  struct Backoff {
    int failures = 0;
    EventPtr timer;
  };

  static void OnSigchld(evutil_socket_t, short, void* self);
  static void OnRestartTimer(evutil_socket_t, short, void* self);
  Status Spawn(ChildKind kind);
  void Reap();
  void ScheduleRestart(ChildKind kind, Duration uptime);

  event_base* base_;
  const Clock* clock_;
  const Config* config_ = nullptr;
  ChildUsers users_;
  ServiceSockets sockets_;
  Hooks hooks_;
  EventPtr sigchld_;
  std::map<pid_t, Child> children_;
  std::map<ChildKind, Backoff> backoff_;
  std::map<ChildKind, int> pending_restarts_;
  uint32_t smtpd_generation_ = 0;
  bool stopping_ = false;
};

}  // namespace postern
