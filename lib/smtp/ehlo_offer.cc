// lib/smtp/ehlo_offer.cc — see lib/smtp/ehlo_offer.h.
#include "lib/smtp/ehlo_offer.h"

#include "lib/base/ascii.h"

namespace postern {
namespace {

// Mechanisms whose exchange carries the password itself.
bool SendsPasswordInTheClear(std::string_view mechanism) {
  return AsciiEqualsIgnoreCase(mechanism, "LOGIN") || AsciiEqualsIgnoreCase(mechanism, "PLAIN");
}

}  // namespace

bool AuthMechanismWaitsForTls(const ListenerConfig& listener, std::string_view mechanism) {
  if (listener.auth_require_tls == AuthRequireTls::kAll) return true;
  return SendsPasswordInTheClear(mechanism) && !listener.allow_plaintext_auth;
}

std::string AuthMechanismName(std::string_view mechanism) { return AsciiUpperCase(mechanism); }

EhloOffer::EhloOffer(const ListenerConfig& listener, Hello hello, Transport transport)
    : listener_(listener), hello_(hello), transport_(transport) {}

OfferedExtensions EhloOffer::parameters() const {
  OfferedExtensions offered;
  if (!extended()) return offered;  // HELO: no extension was negotiated
  offered.size = listener_.advertise_size;
  offered.dsn = listener_.advertise_dsn;
  offered.eightbitmime = listener_.advertise_8bitmime;
  offered.binarymime = listener_.advertise_binarymime && listener_.advertise_chunking;
  // RFC 4954 5: AUTH= is accepted wherever AUTH is offered, also from a
  // client that has not authenticated.
  offered.auth = !auth_mechanisms().empty();
  return offered;
}

bool EhloOffer::starttls() const {
  return extended() && listener_.advertise_starttls && listener_.has_tls() &&
         !listener_.tls_wrapper && transport_ == Transport::kCleartext;
}

bool EhloOffer::chunking() const { return extended() && listener_.advertise_chunking; }

std::vector<std::string> EhloOffer::auth_mechanisms() const {
  std::vector<std::string> offered;
  if (!extended() || !listener_.advertise_auth) return offered;
  bool tls = transport_ == Transport::kTls;
  if (listener_.require_tls && !tls) return offered;
  for (const std::string& mechanism : listener_.auth_mechanisms) {
    if (AuthMechanismWaitsForTls(listener_, mechanism) && !tls) continue;
    offered.push_back(AuthMechanismName(mechanism));
  }
  return offered;
}

std::vector<std::string> EhloOffer::keywords() const {
  std::vector<std::string> keywords;
  if (!extended()) return keywords;
  OfferedExtensions offered = parameters();
  if (offered.size) {
    // RFC 1870: a bare SIZE announces no fixed limit.
    keywords.push_back(listener_.max_message_size == 0
                           ? std::string("SIZE")
                           : "SIZE " + std::to_string(listener_.max_message_size));
  }
  if (offered.dsn) keywords.push_back("DSN");
  if (listener_.advertise_enhancedstatuscodes) keywords.push_back("ENHANCEDSTATUSCODES");
  if (listener_.advertise_pipelining) keywords.push_back("PIPELINING");
  if (starttls()) keywords.push_back("STARTTLS");
  std::vector<std::string> mechanisms = auth_mechanisms();
  if (!mechanisms.empty()) {
    std::string line = "AUTH";
    for (const std::string& mechanism : mechanisms) line += " " + mechanism;
    keywords.push_back(std::move(line));
  }
  if (offered.eightbitmime) keywords.push_back("8BITMIME");
  if (offered.binarymime) keywords.push_back("BINARYMIME");
  if (chunking()) keywords.push_back("CHUNKING");
  return keywords;
}

}  // namespace postern
