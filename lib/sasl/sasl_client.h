// lib/sasl/sasl_client.h — one client-side SASL exchange (SMTP AUTH to a next
// hop) with Cyrus SASL: NTLM ([MS-SMTP]), LOGIN ([MS-XLOGIN]) and PLAIN.
//
// Owns one sasl_conn_t and the credentials (relay_auth_user and the password
// of relay_password_file), which libsasl2 asks for through callbacks kept in
// this object (SASL_CB_AUTHNAME and SASL_CB_USER give the user, as Postfix's
// smtp client does, SASL_CB_PASS the password). Deals in raw bytes like
// lib/sasl/sasl_server.h: the driver base64-encodes responses and decodes
// challenges. lib/smtp/client_session decides when and which mechanism; the
// driver answers its AuthStart with Start() and AuthContinue with Step().
//
// No file under /etc/sasl2 decides anything: every option libsasl2 or a
// plugin asks for is answered by this object's callbacks (most with "not
// set"), so libsasl2 never falls back to a configuration file, not even the
// one that sasl_server_init read in a process that holds both sides. Only
// NTLM, LOGIN and PLAIN can be started. NTLM sends the LMv2 response
// (Cyrus's ntlm_v2 option), never NTLMv1's DES responses.
//
// The password never appears in a log line or an error; its memory is wiped
// when the exchange is destroyed. Responses of LOGIN and PLAIN carry the
// password: the caller sends them and must not log them.
// Single-threaded, like libsasl2.
#pragma once

#include <sasl/sasl.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/status.h"

namespace postern {

struct SaslClientCredentials {
  std::string user;
  std::string password;
};

class SaslClientExchange {
 public:
  // server_name: the next hop's host name (libsasl2's serverFQDN).
  // credentials are copied; the caller may wipe its copy.
  static Result<std::unique_ptr<SaslClientExchange>> Create(
      const std::string& server_name, const SaslClientCredentials& credentials);
  ~SaslClientExchange();
  SaslClientExchange(const SaslClientExchange&) = delete;
  SaslClientExchange& operator=(const SaslClientExchange&) = delete;

  // The first step: the initial response, or none when the mechanism waits
  // for the server's first challenge (LOGIN). Errors name the mechanism and
  // libsasl2's reason ("SASL NTLM client failed: ...").
  Result<std::optional<std::string>> Start(std::string_view mechanism);
  // The response to the server's decoded challenge.
  Result<std::string> Step(std::string_view challenge);

 private:
  explicit SaslClientExchange(const SaslClientCredentials& credentials);
  static int GetSimple(void* context, int id, const char** result, unsigned* length);
  static int GetSecret(sasl_conn_t* conn, void* context, int id, sasl_secret_t** secret);
  Status Fail(int rc, const char* what);

  enum class State { kNew, kRunning, kDone };

  std::string user_;
  // A sasl_secret_t: its length, then the password's bytes.
  std::string secret_;
  std::string mechanism_;
  // libsasl2 keeps a pointer: declared before conn_.
  std::array<sasl_callback_t, 6> callbacks_;
  sasl_conn_t* conn_ = nullptr;
  State state_ = State::kNew;
};

}  // namespace postern
