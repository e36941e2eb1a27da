// master/main.cc — master on the daemon skeleton: its users and start-up report.
//
// `master -c CONFIG_DIR [-d] [--ready-fd N] [-v]` (lib/base/daemon_main.h
// runs it). With --ready-fd, master writes exactly one line to N once
// start-up is over: `ok` when every listener is accepting and qmgr is up,
// or `error: <why>`; the `postern start` command waits for that line.
// -d/--daemon detaches from the terminal first. Started as root, master
// checks that the configured users exist and hands each child its own;
// started as another user, everything runs as that user, with a warning.
#include <unistd.h>

#include <memory>
#include <string>

#include "lib/base/daemon_main.h"
#include "lib/base/log.h"
#include "lib/base/privileges.h"
#include "lib/config/config.h"
#include "master/master.h"

namespace postern {
namespace {

Result<ChildUsers> LookUpUsers(const Config& config) {
  ChildUsers users;
  if (!RunningAsRoot()) {
    UserIdentity self{"", getuid(), getgid()};
    return ChildUsers{self, self, self};
  }
  struct Want {
    const std::string& name;
    const char* key;
    UserIdentity* out;
  };
  for (const Want& want : {Want{config.smtpd_user, "smtpd_user", &users.smtpd},
                           Want{config.queue_user, "queue_user", &users.queue},
                           Want{config.auth_user, "auth_user", &users.auth}}) {
    Result<UserIdentity> user = LookUpUser(want.name, want.key);
    if (!user.ok()) return user.status();
    *want.out = *user;
  }
  return users;
}

class MasterProgram : public DaemonProgram {
 public:
  Status Prepare(Config config) override {
    Result<ChildUsers> users = LookUpUsers(config);
    if (!users.ok()) return users.status();
    if (!RunningAsRoot())
      LOG_WARNING(
          "not started as root: every postern process runs as uid %d and smtpd is not "
          "chrooted",
          static_cast<int>(getuid()));
    config_ = std::make_unique<Config>(std::move(config));
    users_ = std::move(*users);
    return Status::Ok();
  }

  Status Start(event_base* base) override {
    master_ = std::make_unique<Master>(base, std::move(config_), std::move(users_));
    return master_->Start();
  }

  // master ends the loop itself once its children have exited.
  bool Stop() override {
    master_->BeginStop();
    return false;
  }

  Status Reload() override {
    std::string trouble;
    if (Status s = master_->Reload(&trouble); !s.ok()) return s;
    if (!trouble.empty()) LOG_ERROR("configuration reloaded, but %s", trouble.c_str());
    return Status::Ok();
  }

 private:
  std::unique_ptr<Config> config_;
  ChildUsers users_;
  std::unique_ptr<Master> master_;
};

}  // namespace
}  // namespace postern

int main(int argc, char** argv) {
  const postern::DaemonSpec spec{
      .name = "master",
      .takes = postern::kReadyFdOption | postern::kDaemonOption,
      .usage = "usage: master -c CONFIG_DIR [-d|--daemon] [--ready-fd N] [-v|--verbose]",
      .extras = {}};
  return postern::RunDaemon(spec, argc, argv, [](const postern::DaemonOptions&) {
    return std::make_unique<postern::MasterProgram>();
  });
}
