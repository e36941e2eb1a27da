// auth/main.cc — authd: command line, socket, privileges, signals, event loop.
//
// `authd -c CONFIG_DIR [--listen-fd N]`. Under master, N is the listening
// socket master made at run_directory/authd.sock and master has already
// made this process auth_user. Started by hand without --listen-fd, authd
// binds run_directory/authd.sock itself (mode 0600, owned by auth_user when
// root) and, when root, becomes auth_user; a stale socket file left by an
// earlier run is replaced at the next start. SIGTERM and SIGINT end the loop
// and the process with status 0; SIGHUP re-reads the configuration, whose
// SASL settings (sasldb_path, auth realm, mechanisms) and lockout limits
// apply to the exchanges started after it. All request handling is
// auth/auth_server's.
#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "auth/auth_server.h"
#include "lib/base/daemon_support.h"
#include "lib/base/log.h"
#include "lib/base/privileges.h"
#include "lib/config/config.h"
#include "lib/net/event_handles.h"
#include "lib/net/unix_socket.h"

namespace postern {
namespace {

struct Options {
  std::string config_dir;
  int listen_fd = -1;
};

[[noreturn]] void Usage() {
  fprintf(stderr, "usage: authd -c CONFIG_DIR [--listen-fd N]\n");
  exit(2);
}

Options ParseOptions(int argc, char** argv) {
  Options options;
  static const option kOptions[] = {{"listen-fd", required_argument, nullptr, 'l'},
                                    {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "c:", kOptions, nullptr)) != -1) {
    switch (c) {
      case 'c':
        options.config_dir = optarg;
        break;
      case 'l': {
        std::optional<int> fd = ParseDescriptor(optarg);
        if (!fd) Usage();
        options.listen_fd = *fd;
        break;
      }
      default:
        Usage();
    }
  }
  if (options.config_dir.empty() || optind != argc) Usage();
  return options;
}

// The state the signal handlers act on.
struct Daemon {
  std::string config_dir;
  std::unique_ptr<Config> config;
  EventBasePtr base;
  AuthServer* server = nullptr;
};

// Warns about mechanisms nobody can use; fails only when libsasl2 cannot start.
Status CheckMechanisms(const AuthSettings& settings) {
  Result<std::vector<std::string>> missing =
      SaslServerExchange::UnavailableMechanisms(settings.sasl);
  if (!missing.ok()) return missing.status();
  for (const std::string& mechanism : *missing)
    LOG_WARNING(
        "auth_mechanisms names %s, which libsasl2 does not provide here (is "
        "libsasl2-modules installed?); AUTH %s will be refused",
        mechanism.c_str(), mechanism.c_str());
  return Status::Ok();
}

void OnStop(evutil_socket_t signo, short, void* daemon_ptr) {
  auto* daemon = static_cast<Daemon*>(daemon_ptr);
  LOG_INFO("signal %d: stopping", static_cast<int>(signo));
  event_base_loopexit(daemon->base.get(), nullptr);
}

void OnReload(evutil_socket_t, short, void* daemon_ptr) {
  auto* daemon = static_cast<Daemon*>(daemon_ptr);
  Result<Config> fresh = LoadConfig(daemon->config_dir);
  if (!fresh.ok()) {
    LOG_WARNING("configuration not reloaded, keeping the old one: %s",
                fresh.status().message().c_str());
    return;
  }
  daemon->config = std::make_unique<Config>(std::move(*fresh));
  AuthSettings settings = AuthSettingsFor(*daemon->config);
  if (Status s = CheckMechanisms(settings); !s.ok()) LOG_ERROR("%s", s.message().c_str());
  daemon->server->Reconfigure(std::move(settings));
  LOG_INFO("configuration reloaded");
}

// The listening socket: master's, or our own at run_directory/authd.sock.
Result<int> ListeningSocket(const Options& options, const Config& config,
                            const UserIdentity* auth_user) {
  if (options.listen_fd >= 0) {
    if (Status s = AdoptListeningSocket(options.listen_fd); !s.ok()) return s;
    return options.listen_fd;
  }
  return ListenUnixStream(config.run_directory + "/authd.sock", auth_user);
}

int Fail(const std::string& why) {
  LOG_ERROR("%s", why.c_str());
  return 1;
}

int Run(int argc, char** argv) {
  LogInitFromEnvironment("authd");
  Options options = ParseOptions(argc, argv);
  Daemon daemon{options.config_dir, nullptr, nullptr};
  Result<Config> config = LoadConfig(options.config_dir);
  if (!config.ok()) return Fail(config.status().message());
  daemon.config = std::make_unique<Config>(std::move(*config));
  if (daemon.config->log_syslog) LogInit("authd", true);

  std::unique_ptr<UserIdentity> auth_user;
  if (RunningAsRoot()) {
    Result<UserIdentity> user = LookUpUser(daemon.config->auth_user, "auth_user");
    if (!user.ok()) return Fail(user.status().message());
    auth_user = std::make_unique<UserIdentity>(*user);
  }
  Result<int> listen_fd = ListeningSocket(options, *daemon.config, auth_user.get());
  if (!listen_fd.ok()) return Fail(listen_fd.status().message());
  if (auth_user) {
    if (Status s = DropPrivileges(*auth_user, ""); !s.ok()) return Fail(s.message());
  }

  daemon.base.reset(event_base_new());
  if (!daemon.base) return Fail("cannot create the libevent loop");
  signal(SIGPIPE, SIG_IGN);
  EventPtr signal_events[] = {EventPtr(evsignal_new(daemon.base.get(), SIGTERM, OnStop, &daemon)),
                              EventPtr(evsignal_new(daemon.base.get(), SIGINT, OnStop, &daemon)),
                              EventPtr(evsignal_new(daemon.base.get(), SIGHUP, OnReload, &daemon))};
  for (const EventPtr& ev : signal_events) {
    if (!ev || event_add(ev.get(), nullptr) != 0) return Fail("cannot install the signal handlers");
  }
  // After the handlers: a SIGTERM while libsasl2 loads its plugins is still a clean stop.
  AuthSettings settings = AuthSettingsFor(*daemon.config);
  if (Status s = CheckMechanisms(settings); !s.ok()) return Fail(s.message());
  SystemClock clock;
  AuthServer server(daemon.base.get(), *listen_fd, clock, std::move(settings));
  if (Status s = server.Start(); !s.ok()) return Fail(s.message());
  daemon.server = &server;
  LOG_INFO("ready");
  if (event_base_dispatch(daemon.base.get()) < 0) return Fail("the libevent loop failed");
  return 0;
}

}  // namespace
}  // namespace postern

int main(int argc, char** argv) { return postern::Run(argc, argv); }
