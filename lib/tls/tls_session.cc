// lib/tls/tls_session.cc — see lib/tls/tls_session.h.
//
// The push function appends to output_ and so never blocks; the pull
// function serves input_ and answers EAGAIN when it runs dry, which makes
// every GnuTLS call return GNUTLS_E_AGAIN instead of waiting for the client.
// Client-initiated TLS 1.2 renegotiation is refused, as Postfix does: it
// buys a submission client nothing and costs the server a full handshake
// each time it is asked.
#include "lib/tls/tls_session.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace postern {
namespace {

// A whole TLS record's plaintext, so one receive call empties one record.
constexpr size_t kReceiveChunk = 16384;

std::string AlertSuffix(gnutls_session_t session, int rc) {
  if (rc != GNUTLS_E_FATAL_ALERT_RECEIVED && rc != GNUTLS_E_WARNING_ALERT_RECEIVED) return "";
  const char* name = gnutls_alert_get_name(gnutls_alert_get(session));
  return std::string(" (client sent alert: ") + (name != nullptr ? name : "unknown") + ")";
}

}  // namespace

Result<std::unique_ptr<TlsServerSession>> TlsServerSession::Create(
    const TlsServerCredentials& credentials, std::string_view ticket_key) {
  std::unique_ptr<TlsServerSession> tls(new TlsServerSession());
  int rc = gnutls_init(&tls->session_, GNUTLS_SERVER | GNUTLS_NONBLOCK);
  if (rc < 0) {
    tls->session_ = nullptr;
    return Status::Error(std::string("cannot start a TLS session: ") + gnutls_strerror(rc));
  }
  rc = gnutls_priority_set(tls->session_, credentials.priority());
  if (rc < 0) {
    return Status::Error(std::string("cannot set the TLS priority: ") + gnutls_strerror(rc));
  }
  rc = gnutls_credentials_set(tls->session_, GNUTLS_CRD_CERTIFICATE, credentials.certificate());
  if (rc < 0) {
    return Status::Error(std::string("cannot set the TLS certificate: ") + gnutls_strerror(rc));
  }
  gnutls_certificate_server_set_request(tls->session_, GNUTLS_CERT_IGNORE);
  if (!ticket_key.empty()) {
    Status enabled = tls->EnableTickets(ticket_key);
    if (!enabled.ok()) return enabled;
  }
  gnutls_transport_set_ptr(tls->session_, tls.get());
  gnutls_transport_set_push_function(tls->session_, &TlsServerSession::Push);
  gnutls_transport_set_pull_function(tls->session_, &TlsServerSession::Pull);
  gnutls_transport_set_pull_timeout_function(tls->session_, &TlsServerSession::PullTimeout);
  return tls;
}

Status TlsServerSession::EnableTickets(std::string_view ticket_key) {
  // GnuTLS may keep pointing at the key, so it lives as long as the session.
  ticket_key_bytes_.assign(ticket_key);
  ticket_key_.data = reinterpret_cast<unsigned char*>(ticket_key_bytes_.data());
  ticket_key_.size = ticket_key_bytes_.size();
  int rc = gnutls_session_ticket_enable_server(session_, &ticket_key_);
  if (rc < 0) {
    return Status::Error("cannot enable TLS session tickets with a " +
                         std::to_string(ticket_key.size()) + "-byte key: " + gnutls_strerror(rc));
  }
  return Status::Ok();
}

TlsServerSession::~TlsServerSession() {
  if (session_ != nullptr) gnutls_deinit(session_);
  gnutls_memset(ticket_key_bytes_.data(), 0, ticket_key_bytes_.size());
}

ssize_t TlsServerSession::Push(gnutls_transport_ptr_t self, const void* data, size_t size) {
  static_cast<TlsServerSession*>(self)->output_.append(static_cast<const char*>(data), size);
  return static_cast<ssize_t>(size);
}

ssize_t TlsServerSession::Pull(gnutls_transport_ptr_t self, void* data, size_t size) {
  auto* tls = static_cast<TlsServerSession*>(self);
  size_t available = tls->input_.size() - tls->input_offset_;
  if (available == 0) {
    gnutls_transport_set_errno(tls->session_, EAGAIN);
    return -1;
  }
  size_t n = std::min(size, available);
  std::memcpy(data, tls->input_.data() + tls->input_offset_, n);
  tls->input_offset_ += n;
  return static_cast<ssize_t>(n);
}

// Only consulted by GnuTLS when it wants to wait for input, which a
// non-blocking session never does; answers honestly all the same.
int TlsServerSession::PullTimeout(gnutls_transport_ptr_t self, unsigned int /*ms*/) {
  auto* tls = static_cast<TlsServerSession*>(self);
  return tls->input_offset_ < tls->input_.size() ? 1 : 0;
}

void TlsServerSession::FeedCiphertext(std::string_view bytes) {
  // Nothing more is read from a finished connection; keeping it would only
  // let a client grow this buffer.
  if (state_ == State::kClosed || state_ == State::kFailed) return;
  input_.append(bytes);
}

Status TlsServerSession::Advance(std::string* plaintext) {
  Status status = Status::Ok();
  if (state_ == State::kHandshaking) status = Handshake();
  if (status.ok() && state_ == State::kOpen) status = Receive(plaintext);
  if (state_ == State::kFailed && status.ok()) {
    status = Status::Error("the TLS connection has already failed");
  }
  CompactInput();
  return status;
}

Status TlsServerSession::Handshake() {
  int rc;
  size_t offset_before;
  do {
    offset_before = input_offset_;
    rc = gnutls_handshake(session_);
  } while (rc < 0 && !gnutls_error_is_fatal(rc) && MoreToRead(offset_before));
  if (rc == GNUTLS_E_SUCCESS) {
    state_ = State::kOpen;
    return Status::Ok();
  }
  if (!gnutls_error_is_fatal(rc)) return Status::Ok();
  return Fail(rc, "TLS handshake failed");
}

Status TlsServerSession::Receive(std::string* plaintext) {
  char buffer[kReceiveChunk];
  for (;;) {
    size_t offset_before = input_offset_;
    ssize_t rc = gnutls_record_recv(session_, buffer, sizeof buffer);
    if (rc > 0) {
      plaintext->append(buffer, static_cast<size_t>(rc));
    } else if (rc == 0) {
      state_ = State::kClosed;
      return Status::Ok();
    } else if (rc == GNUTLS_E_REHANDSHAKE) {
      // GnuTLS keeps the ClientHello buffered and cannot read past it, so
      // the refusal ends the connection.
      gnutls_alert_send(session_, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
      state_ = State::kFailed;
      return Status::Error("the client asked to renegotiate TLS, which is refused");
    } else if (gnutls_error_is_fatal(static_cast<int>(rc))) {
      return Fail(static_cast<int>(rc), "TLS receive failed");
    } else if (!MoreToRead(offset_before)) {
      return Status::Ok();
    }
  }
}

// GNUTLS_E_AGAIN also follows a message GnuTLS handled by itself (a TLS 1.3
// key update, a warning alert); it means "nothing more" only when the input
// has run dry or the call made no progress.
bool TlsServerSession::MoreToRead(size_t offset_before) const {
  if (gnutls_record_check_pending(session_) > 0) return true;
  return input_offset_ != offset_before && input_offset_ < input_.size();
}

Status TlsServerSession::Fail(int rc, const char* what) {
  state_ = State::kFailed;
  if (rc != GNUTLS_E_FATAL_ALERT_RECEIVED) gnutls_alert_send_appropriate(session_, rc);
  return Status::Error(std::string(what) + ": " + gnutls_strerror(rc) + AlertSuffix(session_, rc));
}

void TlsServerSession::CompactInput() {
  input_.erase(0, input_offset_);
  input_offset_ = 0;
}

Status TlsServerSession::Write(std::string_view plaintext) {
  if (state_ != State::kOpen && state_ != State::kClosed) {
    return Status::Error(state_ == State::kHandshaking
                             ? "cannot write before the TLS handshake is complete"
                             : "cannot write to a TLS connection that failed");
  }
  while (!plaintext.empty()) {
    ssize_t rc = gnutls_record_send(session_, plaintext.data(), plaintext.size());
    // The push function never blocks, so anything short of progress is an
    // error, even GNUTLS_E_AGAIN.
    if (rc <= 0) {
      int code = static_cast<int>(rc);
      if (gnutls_error_is_fatal(code)) return Fail(code, "TLS send failed");
      return Status::Error(std::string("TLS send failed: ") + gnutls_strerror(code));
    }
    plaintext.remove_prefix(static_cast<size_t>(rc));
  }
  return Status::Ok();
}

void TlsServerSession::Close() {
  if (state_ == State::kOpen || state_ == State::kClosed) gnutls_bye(session_, GNUTLS_SHUT_WR);
}

std::string TlsServerSession::TakeCiphertext() {
  std::string out;
  out.swap(output_);
  return out;
}

std::string TlsServerSession::version() const {
  const char* name = gnutls_protocol_get_name(gnutls_protocol_get_version(session_));
  return name != nullptr ? name : "";
}

std::string TlsServerSession::cipher() const {
  const char* name = gnutls_ciphersuite_get(session_);
  return name != nullptr ? name : "";
}

bool TlsServerSession::resumed() const { return gnutls_session_is_resumed(session_) != 0; }

}  // namespace postern
