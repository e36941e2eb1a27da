// lib/queue/envelope.h — the envelope of one queued message.
//
// Built by the smtpd session from MAIL and RCPT (with their ESMTP
// parameters), stored by qmgr beside the content, and read by delivery.
// Encode()/Decode() give the byte form used both on the queue socket and in
// LMDB; Decode() rejects anything malformed instead of guessing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"

namespace postern {

enum class BodyType : uint8_t { k7Bit = 0, k8BitMime = 1, kBinaryMime = 2 };
enum class DsnRet : uint8_t { kUnspecified = 0, kFull = 1, kHeaders = 2 };

// RFC 3461 NOTIFY as bits; 0 means the client gave no NOTIFY.
enum NotifyFlag : uint8_t {
  kNotifyNever = 1,
  kNotifySuccess = 2,
  kNotifyFailure = 4,
  kNotifyDelay = 8,
};

enum class RecipientState : uint8_t { kPending = 0, kDelivered = 1, kFailed = 2 };

struct Recipient {
  std::string address;  // as given in RCPT TO, without angle brackets
  std::string orcpt;    // RFC 3461 ORCPT as received ("rfc822;" + xtext), or empty
  uint8_t notify = 0;   // NotifyFlag bits
  RecipientState state = RecipientState::kPending;
  std::string last_error;  // why the last attempt failed, for queue show and DSNs
  // What the last attempt ended with, for DSNs (RFC 3464 2.3), queue show
  // and the back-off (lib/queue/delivery_schedule.h):
  std::string status{};      // RFC 3463 X.Y.Z, or empty before any attempt ended
  std::string remote_mta{};  // host name of the server that answered; empty for local delivery
  bool smtp_reply = false;   // last_error is remote_mta's SMTP reply (a Diagnostic-Code: smtp)
  uint32_t attempts = 0;     // attempts that ended without delivering (the back-off counts them)
  int64_t last_attempt = 0;  // when the last attempt ended, seconds since the epoch; 0: none

  bool operator==(const Recipient&) const = default;
};

struct Envelope {
  std::string queue_id;
  std::string sender;  // empty for the null reverse path <>
  std::vector<Recipient> recipients;
  BodyType body = BodyType::k7Bit;
  DsnRet ret = DsnRet::kUnspecified;
  std::string envid;         // RFC 3461 ENVID, xtext as received
  uint64_t size = 0;         // content bytes, set when the message is complete
  int64_t arrival_time = 0;  // seconds since the epoch
  std::string client_address;
  std::string client_helo;
  std::string auth_user;  // empty when not authenticated
  std::string listener;
  // RFC 4954 5: the submitter named by MAIL FROM's AUTH= parameter, as
  // postern keeps it to pass on when relaying: empty when the client gave
  // none; "<>" when it gave <>, or gave a mailbox postern does not trust
  // (client not authenticated, or sender_login_check refuses the address
  // for the login); else that mailbox, "local@domain", decoded from xtext.
  // A relay sends the mailbox as AUTH=, and AUTH=<> for "<>" and also for
  // empty without auth_user (RFC 4954 5: treated as if <> had been given).
  std::string auth_mailbox;
  // The one delay DSN of this message is decided (written, or due to
  // nobody); lib/queue/delivery_schedule.h.
  bool delay_warning_sent = false;

  std::string Encode() const;
  static Result<Envelope> Decode(std::string_view bytes);
  bool operator==(const Envelope&) const = default;
};

}  // namespace postern
