// auth/main.cc — authd: its socket and privileges on the daemon skeleton.
//
// `authd -c CONFIG_DIR [-l N] [-d] [-v]` (lib/base/daemon_main.h runs it).
// Under master, -l/--listen-fd N is the listening socket master made at
// run_directory/authd.sock and master has already made this process
// auth_user. Started by hand without it, authd binds run_directory/authd.sock
// itself (mode 0600, owned by auth_user when root) and, when root, becomes
// auth_user; a stale socket file left by an earlier run is replaced at the
// next start. SIGHUP re-reads the configuration, whose SASL settings
// (sasldb_path, auth realm, mechanisms) and lockout limits apply to the
// exchanges started after it. All request handling is auth/auth_server's.
#include <memory>
#include <string>

#include "auth/auth_server.h"
#include "lib/base/daemon_main.h"
#include "lib/base/daemon_support.h"
#include "lib/base/log.h"
#include "lib/base/privileges.h"
#include "lib/config/config.h"
#include "lib/net/unix_socket.h"

namespace postern {
namespace {

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

class Authd : public DaemonProgram {
 public:
  explicit Authd(const DaemonOptions& options) : listen_fd_(options.listen_fd) {}

  // The socket (master's, or our own), then auth_user.
  Status Prepare(Config config) override {
    config_ = std::make_unique<Config>(std::move(config));
    std::unique_ptr<UserIdentity> auth_user;
    if (RunningAsRoot()) {
      Result<UserIdentity> user = LookUpUser(config_->auth_user, "auth_user");
      if (!user.ok()) return user.status();
      auth_user = std::make_unique<UserIdentity>(*user);
    }
    if (listen_fd_ >= 0) {
      if (Status s = AdoptListeningSocket(listen_fd_); !s.ok()) return s;
    } else {
      Result<int> bound = ListenUnixStream(config_->run_directory + "/authd.sock", auth_user.get());
      if (!bound.ok()) return bound.status();
      listen_fd_ = *bound;
    }
    if (auth_user) return DropPrivileges(*auth_user, "");
    return Status::Ok();
  }

  // After the signal handlers: a SIGTERM while libsasl2 loads its plugins is
  // still a clean stop.
  Status Start(event_base* base) override {
    Result<AuthSettings> settings = AuthSettingsFor(*config_);
    if (!settings.ok()) return settings.status();
    if (Status s = CheckMechanisms(*settings); !s.ok()) return s;
    LOG_INFO("users are looked up in realm %s", settings->sasl.realm.c_str());
    server_ = std::make_unique<AuthServer>(base, listen_fd_, clock_, std::move(*settings));
    return server_->Start();
  }

  bool Stop() override { return true; }

  Status Reload() override {
    Result<Config> fresh = LoadConfig(config_->config_dir);
    if (!fresh.ok()) return fresh.status();
    config_ = std::make_unique<Config>(std::move(*fresh));
    Result<AuthSettings> settings = AuthSettingsFor(*config_);
    if (!settings.ok()) return settings.status();
    if (Status s = CheckMechanisms(*settings); !s.ok()) LOG_ERROR("%s", s.message().c_str());
    LOG_INFO("users are looked up in realm %s", settings->sasl.realm.c_str());
    server_->Reconfigure(std::move(*settings));
    return Status::Ok();
  }

 private:
  int listen_fd_;
  std::unique_ptr<Config> config_;
  SystemClock clock_;
  std::unique_ptr<AuthServer> server_;
};

}  // namespace
}  // namespace postern

int main(int argc, char** argv) {
  const postern::DaemonSpec spec{
      .name = "authd",
      .takes = postern::kListenFdOption | postern::kDaemonOption,
      .usage = "usage: authd -c CONFIG_DIR [-l|--listen-fd N] [-d|--daemon] [-v|--verbose]",
      .extras = {}};
  return postern::RunDaemon(spec, argc, argv, [](const postern::DaemonOptions& options) {
    return std::make_unique<postern::Authd>(options);
  });
}
