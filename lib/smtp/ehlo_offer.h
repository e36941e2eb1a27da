// lib/smtp/ehlo_offer.h — the ESMTP extensions a session offers, and the
// keyword lines of its EHLO reply.
//
// A pure function of the listener's configuration, the hello the client
// sent and whether TLS is in force: the session lists what EhloOffer
// computes and accepts MAIL and RCPT parameters, BDAT, STARTTLS and AUTH by
// the same computation, so what is offered and what is accepted cannot
// drift apart. After HELO, or before any hello, nothing is offered.
//
// Decided here (MS-OXSMTP 3.2.5 lists the keywords; RFC 3207, RFC 4954):
//   - The keywords come in the spec's order: SIZE, DSN, ENHANCEDSTATUSCODES,
//     PIPELINING, STARTTLS, AUTH, 8BITMIME, BINARYMIME, CHUNKING, each
//     while its advertise_* key is on. SIZE carries max_message_size; a bare
//     SIZE announces no fixed limit (RFC 1870). BINARYMIME needs CHUNKING.
//   - STARTTLS needs a certificate, and is not offered on a tls_wrapper
//     listener or once TLS is on.
//   - AUTH lists the configured mechanisms, upper-case and in the configured
//     order, that may be used now (AuthMechanismWaitsForTls): none before TLS
//     on a require_tls listener. Where none may be used the AUTH line is
//     left out, and so is AUTH= on MAIL.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lib/config/config.h"
#include "lib/smtp/smtp_address.h"

namespace postern {

// The hello a client sent last.
enum class Hello { kNone, kHelo, kEhlo };

// Whether the session's connection is encrypted (STARTTLS or tls_wrapper).
enum class Transport { kCleartext, kTls };

// Whether AUTH with this mechanism waits for TLS on the listener:
// auth_require_tls = all holds back every mechanism; login, the default,
// those that carry the password itself (LOGIN, PLAIN) unless
// allow_plaintext_auth is set. require_tls is not consulted.
bool AuthMechanismWaitsForTls(const ListenerConfig& listener, std::string_view mechanism);

// A mechanism's name as the EHLO reply lists it and authd is asked for it:
// upper-case, as RFC 4954 writes SASL mechanism names.
std::string AuthMechanismName(std::string_view mechanism);

class EhloOffer {
 public:
  // listener must outlive the offer.
  EhloOffer(const ListenerConfig& listener, Hello hello, Transport transport);

  // The extensions whose parameters MAIL and RCPT accept.
  OfferedExtensions parameters() const;
  bool starttls() const;
  bool chunking() const;
  // The mechanisms the AUTH line lists, empty when there is no AUTH line.
  std::vector<std::string> auth_mechanisms() const;
  // The lines of the EHLO reply after its greeting line, in order.
  std::vector<std::string> keywords() const;

 private:
  bool extended() const { return hello_ == Hello::kEhlo; }

  const ListenerConfig& listener_;
  Hello hello_;
  Transport transport_;
};

}  // namespace postern
