// lib/sasl/sasl_client.cc — see lib/sasl/sasl_client.h.
//
// libsasl2 is initialised for clients once per process (sasl_client_init,
// beside sasl_server_init where authd's code runs too: the two keep separate
// global state). A client option not answered by a connection's callbacks
// falls through to the global callbacks and then to the configuration file
// that sasl_server_init loaded; answering every option with SASL_OK, most of
// them "not set", stops that fall-through.
#include "lib/sasl/sasl_client.h"

#include <string.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "lib/base/ascii.h"
#include "lib/sasl/sasl_users.h"

namespace postern {
namespace {

constexpr std::string_view kMechanisms[] = {"NTLM", "LOGIN", "PLAIN"};
// The client_mech_list: the plugins of other mechanisms are never used.
constexpr char kMechanismList[] = "NTLM LOGIN PLAIN";

// libsasl2's options, answered for every client connection and globally;
// anything else is answered "not set" so that no configuration file is
// consulted.
int ClientOption(void* /*context*/, const char* plugin_name, const char* option,
                 const char** result, unsigned* length) {
  std::string_view name(option);
  const char* value = nullptr;
  if (plugin_name == nullptr && name == "client_mech_list") {
    value = kMechanismList;
  } else if (plugin_name != nullptr && std::string_view(plugin_name) == "NTLM" &&
             name == "ntlm_v2") {
    value = "yes";
  }
  *result = value;
  if (length != nullptr) *length = value != nullptr ? static_cast<unsigned>(strlen(value)) : 0;
  return SASL_OK;
}

Status InitSaslClient() {
  static const sasl_callback_t global[] = {{SASL_CB_GETOPT, AsSaslCallback(&ClientOption), nullptr},
                                           {SASL_CB_LOG, AsSaslCallback(&LogSaslMessage), nullptr},
                                           {SASL_CB_LIST_END, nullptr, nullptr}};
  static std::once_flag once;
  static int rc = SASL_OK;
  std::call_once(once, [] { rc = sasl_client_init(global); });
  if (rc != SASL_OK) {
    return Status::Error(std::string("cannot initialise Cyrus SASL's client side: ") +
                         sasl_errstring(rc, nullptr, nullptr));
  }
  return Status::Ok();
}

}  // namespace

SaslClientExchange::SaslClientExchange(const SaslClientCredentials& credentials)
    : user_(credentials.user),
      callbacks_{{{SASL_CB_AUTHNAME, AsSaslCallback(&GetSimple), this},
                  {SASL_CB_USER, AsSaslCallback(&GetSimple), this},
                  {SASL_CB_PASS, AsSaslCallback(&GetSecret), this},
                  {SASL_CB_GETOPT, AsSaslCallback(&ClientOption), nullptr},
                  {SASL_CB_LOG, AsSaslCallback(&LogSaslMessage), this},
                  {SASL_CB_LIST_END, nullptr, nullptr}}} {
  // sasl_secret_t's data[1] leaves room for a terminating NUL after the
  // password, which some plugins expect.
  secret_.assign(sizeof(sasl_secret_t) + credentials.password.size(), '\0');
  auto* secret = reinterpret_cast<sasl_secret_t*>(secret_.data());
  secret->len = credentials.password.size();
  std::memcpy(secret->data, credentials.password.data(), credentials.password.size());
}

SaslClientExchange::~SaslClientExchange() {
  if (conn_ != nullptr) sasl_dispose(&conn_);
  explicit_bzero(secret_.data(), secret_.size());
}

Result<std::unique_ptr<SaslClientExchange>> SaslClientExchange::Create(
    const std::string& server_name, const SaslClientCredentials& credentials) {
  if (Status s = InitSaslClient(); !s.ok()) return s;
  std::unique_ptr<SaslClientExchange> exchange(new SaslClientExchange(credentials));
  int rc = sasl_client_new(kSaslService, server_name.c_str(), nullptr, nullptr,
                           exchange->callbacks_.data(), 0, &exchange->conn_);
  if (rc != SASL_OK) {
    exchange->conn_ = nullptr;
    return Status::Error(std::string("cannot start a SASL client connection: ") +
                         sasl_errstring(rc, nullptr, nullptr));
  }
  return exchange;
}

Result<std::optional<std::string>> SaslClientExchange::Start(std::string_view mechanism) {
  if (state_ != State::kNew) return Status::Error("a second start of the same SASL exchange");
  state_ = State::kRunning;
  mechanism_ = AsciiUpperCase(mechanism);
  if (std::find(std::begin(kMechanisms), std::end(kMechanisms), mechanism_) ==
      std::end(kMechanisms)) {
    state_ = State::kDone;
    return Status::Error("SASL " + mechanism_ +
                         " client: not a mechanism postern uses (NTLM, LOGIN, PLAIN)");
  }
  sasl_interact_t* interaction = nullptr;
  const char* out = nullptr;
  unsigned out_length = 0;
  const char* chosen = nullptr;
  int rc = sasl_client_start(conn_, mechanism_.c_str(), &interaction, &out, &out_length, &chosen);
  if (rc != SASL_OK && rc != SASL_CONTINUE) return Fail(rc, "start");
  // libsasl2 tells an empty initial response from none by the pointer alone.
  if (out == nullptr) return std::optional<std::string>();
  return std::optional<std::string>(std::string(out, out_length));
}

Result<std::string> SaslClientExchange::Step(std::string_view challenge) {
  if (state_ != State::kRunning) return Status::Error("a SASL step outside a running exchange");
  sasl_interact_t* interaction = nullptr;
  const char* out = nullptr;
  unsigned out_length = 0;
  int rc = sasl_client_step(conn_, challenge.data(), static_cast<unsigned>(challenge.size()),
                            &interaction, &out, &out_length);
  if (rc != SASL_OK && rc != SASL_CONTINUE) return Fail(rc, "step");
  return std::string(out != nullptr ? out : "", out_length);
}

Status SaslClientExchange::Fail(int rc, const char* what) {
  state_ = State::kDone;
  // SASL_INTERACT: a plugin wants more than the user name and the password,
  // which no mechanism of kMechanisms does.
  const char* detail = rc == SASL_INTERACT ? "the mechanism asked for more than a user name and "
                                             "a password"
                                           : sasl_errdetail(conn_);
  return Status::Error("SASL " + mechanism_ + " client " + what +
                       " failed: " + (detail != nullptr ? detail : "unknown SASL error"));
}

int SaslClientExchange::GetSimple(void* context, int /*id*/, const char** result,
                                  unsigned* length) {
  const std::string& user = static_cast<SaslClientExchange*>(context)->user_;
  *result = user.c_str();
  if (length != nullptr) *length = static_cast<unsigned>(user.size());
  return SASL_OK;
}

int SaslClientExchange::GetSecret(sasl_conn_t* /*conn*/, void* context, int /*id*/,
                                  sasl_secret_t** secret) {
  auto* self = static_cast<SaslClientExchange*>(context);
  *secret = reinterpret_cast<sasl_secret_t*>(self->secret_.data());
  return SASL_OK;
}

}  // namespace postern
