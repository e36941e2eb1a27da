// lib/tls/tls_channel.cc — see lib/tls/tls_channel.h.
//
// The push function appends to output_ and so never blocks; the pull
// function serves input_ and answers EAGAIN when it runs dry, which makes
// every GnuTLS call return GNUTLS_E_AGAIN instead of waiting for the peer.
#include "lib/tls/tls_channel.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace postern {
namespace {

// A whole TLS record's plaintext, so one receive call empties one record.
constexpr size_t kReceiveChunk = 16384;

}  // namespace

TlsChannel::~TlsChannel() {
  if (session_ != nullptr) gnutls_deinit(session_);
}

Status TlsChannel::Init(unsigned flags) {
  int rc = gnutls_init(&session_, flags | GNUTLS_NONBLOCK);
  if (rc < 0) {
    session_ = nullptr;
    return Status::Error(std::string("cannot start a TLS session: ") + gnutls_strerror(rc));
  }
  gnutls_transport_set_ptr(session_, this);
  gnutls_transport_set_push_function(session_, &TlsChannel::Push);
  gnutls_transport_set_pull_function(session_, &TlsChannel::Pull);
  gnutls_transport_set_pull_timeout_function(session_, &TlsChannel::PullTimeout);
  return Status::Ok();
}

ssize_t TlsChannel::Push(gnutls_transport_ptr_t self, const void* data, size_t size) {
  static_cast<TlsChannel*>(self)->output_.append(static_cast<const char*>(data), size);
  return static_cast<ssize_t>(size);
}

ssize_t TlsChannel::Pull(gnutls_transport_ptr_t self, void* data, size_t size) {
  auto* tls = static_cast<TlsChannel*>(self);
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
int TlsChannel::PullTimeout(gnutls_transport_ptr_t self, unsigned int /*ms*/) {
  auto* tls = static_cast<TlsChannel*>(self);
  return tls->input_offset_ < tls->input_.size() ? 1 : 0;
}

void TlsChannel::FeedCiphertext(std::string_view bytes) {
  // Nothing more is read from a finished connection; keeping it would only
  // let the peer grow this buffer.
  if (state_ == State::kClosed || state_ == State::kFailed) return;
  input_.append(bytes);
}

Status TlsChannel::Advance(std::string* plaintext) {
  Status status = Status::Ok();
  if (state_ == State::kHandshaking) status = Handshake();
  if (status.ok() && state_ == State::kOpen) status = Receive(plaintext);
  if (state_ == State::kFailed && status.ok()) {
    status = Status::Error("the TLS connection has already failed");
  }
  CompactInput();
  return status;
}

Status TlsChannel::Handshake() {
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
  state_ = State::kFailed;
  if (rc != GNUTLS_E_FATAL_ALERT_RECEIVED) gnutls_alert_send_appropriate(session_, rc);
  return HandshakeFailed(rc);
}

Status TlsChannel::HandshakeFailed(int rc) {
  return Status::Error(Describe(rc, "TLS handshake failed"));
}

Status TlsChannel::Receive(std::string* plaintext) {
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
      // GnuTLS keeps the peer's hello buffered and cannot read past it, so
      // the refusal ends the connection.
      gnutls_alert_send(session_, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
      state_ = State::kFailed;
      return Status::Error(std::string("the ") + peer_ +
                           " asked to renegotiate TLS, which is refused");
    } else if (gnutls_error_is_fatal(static_cast<int>(rc))) {
      return Fail(static_cast<int>(rc), "TLS receive failed");
    } else if (!MoreToRead(offset_before)) {
      return Status::Ok();
    }
  }
}

// GNUTLS_E_AGAIN also follows a message GnuTLS handled by itself (a TLS 1.3
// key update or session ticket, a warning alert); it means "nothing more"
// only when the input has run dry or the call made no progress.
bool TlsChannel::MoreToRead(size_t offset_before) const {
  if (gnutls_record_check_pending(session_) > 0) return true;
  return input_offset_ != offset_before && input_offset_ < input_.size();
}

Status TlsChannel::Fail(int rc, const char* what) {
  state_ = State::kFailed;
  if (rc != GNUTLS_E_FATAL_ALERT_RECEIVED) gnutls_alert_send_appropriate(session_, rc);
  return Status::Error(Describe(rc, what));
}

std::string TlsChannel::Describe(int rc, const char* what) const {
  std::string text = std::string(what) + ": " + gnutls_strerror(rc);
  if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED || rc == GNUTLS_E_WARNING_ALERT_RECEIVED) {
    const char* name = gnutls_alert_get_name(gnutls_alert_get(session_));
    text +=
        std::string(" (") + peer_ + " sent alert: " + (name != nullptr ? name : "unknown") + ")";
  }
  return text;
}

void TlsChannel::CompactInput() {
  input_.erase(0, input_offset_);
  input_offset_ = 0;
}

Status TlsChannel::Write(std::string_view plaintext) {
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

void TlsChannel::Close() {
  if (state_ == State::kOpen || state_ == State::kClosed) gnutls_bye(session_, GNUTLS_SHUT_WR);
}

std::string TlsChannel::TakeCiphertext() {
  std::string out;
  out.swap(output_);
  return out;
}

std::string TlsChannel::version() const {
  const char* name = gnutls_protocol_get_name(gnutls_protocol_get_version(session_));
  return name != nullptr ? name : "";
}

bool TlsChannel::resumed() const { return gnutls_session_is_resumed(session_) != 0; }

std::string TlsChannel::cipher() const {
  const char* name = gnutls_ciphersuite_get(session_);
  return name != nullptr ? name : "";
}

}  // namespace postern
