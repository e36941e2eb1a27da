// lib/smtp/reply_catalogue.h — every SMTP reply postern sends, in one place.
//
// Each constant is named after the MS-OXSMTP event or table row (3.2.5,
// 3.2.6, 3.2.7) or the RFC 5321/1870/2034/3030 reply it implements, and its
// text is the one the spec fixes. Session code and master pick replies from
// here by name and never write reply text of their own. {0}, {1} in a text
// are filled in by ExpandReply(); a '\n' separates the lines of a multi-line
// reply.
//
// Enhanced status codes (RFC 2034) are carried by every 2xx/4xx/5xx reply
// except the 220 greeting and the positive answer to EHLO/HELO; 3xx replies
// never carry one (RFC 2034 section 4).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace postern {

struct Reply {
  int code;
  const char* enhanced;  // "5.5.2", or nullptr for a reply without one
  const char* text;
};

namespace reply {

// ---- RFC 5321 replies of an ordinary dialogue ----------------------------
// {0} myhostname.
inline constexpr Reply kServiceReady{220, nullptr, "{0} ESMTP postern ready"};
// First line of the EHLO answer and the HELO answer (MS-OXSMTP 3.2.5
// ServerResponse): {0} myhostname, {1} client IP without brackets.
inline constexpr Reply kHelloGreeting{250, nullptr, "{0} Hello {1}"};
// {0} myhostname.
inline constexpr Reply kClosingChannel{221, "2.0.0", "{0} Service closing transmission channel"};
inline constexpr Reply kOk{250, "2.0.0", "OK"};
inline constexpr Reply kSenderOk{250, "2.1.0", "Sender OK"};
inline constexpr Reply kRecipientOk{250, "2.1.5", "Recipient OK"};
inline constexpr Reply kStartMailInput{354, nullptr, "Start mail input; end with <CRLF>.<CRLF>"};
// {0} queue id.
inline constexpr Reply kQueued{250, "2.6.0", "{0} Queued mail for delivery"};
// RFC 3030: the answer to a BDAT chunk that is not the last; {0} its size.
inline constexpr Reply kChunkReceived{250, "2.0.0", "{0} octets received"};
inline constexpr Reply kCannotVerify{
    252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"};
inline constexpr Reply kHelp{214, "2.0.0",
                             "Commands supported:\n"
                             "EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY "
                             "HELP"};

// ---- RFC 5321 syntax and sequence errors ---------------------------------
inline constexpr Reply kCommandUnrecognized{500, "5.5.2", "Syntax error, command unrecognized"};
// A command line longer than 512 octets including CRLF (RFC 5321 4.5.3.1.4).
inline constexpr Reply kLineTooLong{500, "5.5.2", "Line too long"};
// A command line holding NUL, or CR or LF other than its closing CRLF.
inline constexpr Reply kInvalidCommandCharacters{500, "5.5.2",
                                                 "Command line contains NUL, bare CR or bare LF"};
inline constexpr Reply kSyntaxError{501, "5.5.4", "Syntax error in parameters or arguments"};
// EHLO/HELO whose argument is neither a domain nor an address literal.
inline constexpr Reply kInvalidDomainName{501, "5.5.4", "Invalid domain name"};
inline constexpr Reply kCommandNotImplemented{502, "5.5.1", "Command not implemented"};
inline constexpr Reply kNeedMailCommand{503, "5.5.2", "Need mail command"};
inline constexpr Reply kNeedRcptCommand{503, "5.5.2", "Need rcpt command"};
// XEXCH50 (Exchange's binary property blob): postern never offers it.
inline constexpr Reply kXexch50NotAuthorized{504, "5.7.1", "Not authorized"};
// 451 for a queue failure other than lack of resources (RFC 5321 4.2.3).
inline constexpr Reply kLocalErrorInProcessing{
    451, "4.3.0", "Requested action aborted: local error in processing"};
// Message content with a CR or LF that is not part of a CRLF pair
// (RFC 5321 2.3.8); refused so that no other reader of the same bytes
// can find a different end of data (SMTP smuggling).
inline constexpr Reply kBareLineEnding{554, "5.6.0",
                                       "Message contains bare CR or LF; lines must end with CRLF"};
// A listener with advertise_pipelining = no received commands the client
// sent before it had the reply to the previous one (RFC 2920 3: a client
// pipelines only when the server offered PIPELINING). The early input is
// discarded unread, answered with this once, and the session ends, as
// Postfix and Exchange do.
inline constexpr Reply kImproperPipelining{554, "5.5.0", "Improper use of SMTP command pipelining"};

// ---- MS-OXSMTP 3.2.5 error tables -----------------------------------------
// MAIL/RCPT: No initial EHLO command issued.
inline constexpr Reply kSendHelloFirst{503, "5.5.2", "Send hello first"};
// MAIL/RCPT after BDAT; RCPT after XEXCH50; DATA after BDAT or BINARYMIME
// (RFC 3030).
inline constexpr Reply kBadSequence{503, "5.5.1", "Bad sequence of commands"};
// MAIL: A STARTTLS command must be issued first. The spec pairs 451 with
// 5.7.3 although RFC 2034 wants the classes to agree; the spec's MUST wins.
inline constexpr Reply kMustIssueStarttlsFirst{451, "5.7.3", "Must issue a STARTTLS command first"};
// MAIL: A second MAIL From field is specified.
inline constexpr Reply kSenderAlreadySpecified{503, "5.5.2", "Sender already specified"};
// MAIL/RCPT: the field is specified without a ":" character.
inline constexpr Reply kUnrecognizedParameter{501, "5.5.4", "Unrecognized parameter"};
// MAIL: System resources are not available. Also the OutOfResources event
// (3.2.7) and a queue that answers with lack of resources.
inline constexpr Reply kInsufficientSystemResources{452, "4.3.1", "Insufficient system resources"};
// MAIL: Invalid extension. MAIL, RCPT or DATA: domain expansion fails.
inline constexpr Reply kInvalidArguments{501, "5.5.4", "Invalid arguments"};
// RCPT: Invalid address; a null reverse path given as the address.
inline constexpr Reply kInvalidRecipientAddress{501, "5.1.3", "Invalid address"};
// RCPT: A relay is not available for the recipient.
inline constexpr Reply kUnableToRelay{550, "5.7.1", "Unable to relay"};
// RCPT (RFC 5321 550, RFC 3463 5.1.1; Postfix's wording): a local
// recipient that local_recipient_map does not know; {0} the address.
inline constexpr Reply kUserUnknown{550, "5.1.1",
                                    "<{0}>: Recipient address rejected: User unknown"};
// RCPT (RFC 3463 4.3.0; Postfix's wording): authd could not say whether a
// local recipient exists; {0} the address.
inline constexpr Reply kTemporaryLookupFailure{451, "4.3.0", "<{0}>: Temporary lookup failure"};
// MAIL (RFC 4409 4.2 table): Invalid address.
inline constexpr Reply kInvalidSenderAddress{501, "5.1.7", "Invalid address"};
// MAIL (RFC 4409 4.3 table): Session was not authenticated by using AUTH.
inline constexpr Reply kNotAuthenticated{530, "5.7.1", "Not authenticated"};
inline constexpr Reply kClientNotAuthenticated{530, "5.7.1", "Client was not authenticated"};
// MAIL: no return path can be determined, or the sender lacks submission
// rights.
inline constexpr Reply kClientNotPermitted{
    550, "5.7.1", "Client does not have permissions to submit to this server"};

// ---- STARTTLS (RFC 3207) ---------------------------------------------------
// The go-ahead for the TLS handshake.
inline constexpr Reply kReadyToStartTls{220, "2.0.0", "SMTP server ready"};
// STARTTLS once TLS is in force (after STARTTLS, or on a tls_wrapper listener).
inline constexpr Reply kOnlyOneStarttls{503, "5.5.2",
                                        "Only one STARTTLS command can be issued per session"};
// AUTH before STARTTLS on a require_tls listener.
inline constexpr Reply kStarttlsBeforeAuth{530, "5.7.0", "Must issue a STARTTLS command first"};

// ---- AUTH (RFC 4954, [MS-SMTP] NTLM, [MS-XLOGIN] LOGIN) --------------------
// [MS-SMTP] 3.1.5.2: the answer to AUTH NTLM without an initial response.
inline constexpr Reply kNtlmSupported{334, nullptr, "NTLM supported"};
// A server challenge; {0} the challenge in base64.
inline constexpr Reply kAuthChallenge{334, nullptr, "{0}"};
inline constexpr Reply kAuthSuccessful{235, "2.7.0", "Authentication successful"};
// Wrong password and unknown user alike, so that no one can probe for users.
inline constexpr Reply kAuthUnsuccessful{535, "5.7.3", "Authentication unsuccessful"};
// The client answered a challenge with "*".
inline constexpr Reply kAuthCancelled{501, "5.5.4", "Authentication cancelled"};
// An initial response or an answer that is not base64 (RFC 4954 4).
inline constexpr Reply kCannotDecodeResponse{501, "5.5.2", "Cannot decode response"};
inline constexpr Reply kUnrecognizedAuthType{504, "5.7.4", "Unrecognized authentication type"};
inline constexpr Reply kAuthAlreadySpecified{503, "5.5.2", "Auth command already specified"};
// authd is unreachable or could not decide.
inline constexpr Reply kTemporaryAuthFailure{454, "4.7.0", "Temporary authentication failure"};
// AUTH LOGIN in cleartext where the listener does not allow it (RFC 4954 6).
inline constexpr Reply kEncryptionRequired{
    538, "5.7.11", "Encryption required for requested authentication mechanism"};

// ---- MS-OXSMTP 3.2.6 timer events -----------------------------------------
inline constexpr Reply kConnectionTimedOut{421, "4.4.1", "Connection timed out"};
inline constexpr Reply kTimeoutWaitingForInput{451, "4.7.0", "Timeout waiting for client input"};

// The server is stopping (RFC 5321 3.8 and 4.2.3).
inline constexpr Reply kShuttingDown{421, "4.3.2",
                                     "Service shutting down, closing transmission channel"};

// ---- MS-OXSMTP 3.2.7 other local events -----------------------------------
// MaxHopCount and MaxLocalHopCount.
inline constexpr Reply kHopCountExceeded{554, "5.4.6", "Hop count exceeded - possible mail loop"};
// TooManyRecipients.
inline constexpr Reply kTooManyRecipients{452, "4.5.3", "Too many recipients"};
// MessageRateLimitExceeded.
inline constexpr Reply kRateLimitExceeded{
    421, "4.4.2", "Message submission rate for this client has exceeded the configured limit"};
// HeaderSizeExceeded.
inline constexpr Reply kHeaderSizeExceeded{552, "5.3.4", "Header size exceeds fixed maximum size"};
// MessageSizeExceeded; also the RFC 1870 answer to MAIL with a SIZE= over
// the limit, whose text is the same.
inline constexpr Reply kMessageSizeExceeded{552, "5.3.4",
                                            "Message size exceeds fixed maximum message size"};
// ProtocolViolationCount.
inline constexpr Reply kTooManyErrors{
    421, "4.7.0", "Too many errors on this connection, closing transmission channel"};
// NewConnectionNotAvailable.
inline constexpr Reply kConnectionDropped{421, "4.4.2", "Connection dropped"};
// BindingNotConfigured.
inline constexpr Reply kServiceNotAvailable{421, "4.3.2", "Service not available"};
// ConnectionCountExceeded.
inline constexpr Reply kConnectionCountExceeded{
    421, "4.3.2",
    "The maximum number of concurrent server connections has exceeded a limit, closing "
    "transmission channel"};
// ConnectionCountPerSource.
inline constexpr Reply kConnectionCountPerSource{
    421, "4.3.2",
    "The maximum number of concurrent connections has exceeded a limit, closing transmission "
    "channel"};
// IPAddressNotAllowed, static range of blocked addresses; {0} client IP.
inline constexpr Reply kIpAddressNotAllowedStatic{
    550, "5.7.1",
    "External client with IP address {0} does not have permissions to submit to this server. "
    "Visit http://support.microsoft.com/kb/928123 for more information"};
// IPAddressNotAllowed, dynamic range of blocked addresses; {0} client IP.
inline constexpr Reply kIpAddressNotAllowedDynamic{
    550, "5.7.1",
    "External client with IP address {0} does not have permissions to submit to this server"};
// IPAddressNotAllowed, client found on a block list.
inline constexpr Reply kIpAddressOnBlockList{
    550, "5.7.1", "Recipient not authorized, your IP has been found on a block list"};

}  // namespace reply

// reply.text with {0}, {1}, ... replaced by args[0], args[1], ...; a
// placeholder without a matching argument is left as it is. Arguments are
// inserted verbatim and never expanded again.
std::string ExpandReply(const Reply& reply, std::initializer_list<std::string_view> args = {});

// The wire form of a reply: one line per '\n'-separated line of text, each
// "CODE-" except the last "CODE ", the enhanced code (when not empty) after
// the separator on every line, and CRLF after each line.
std::string FormatReply(int code, std::string_view enhanced, std::string_view text);

// The wire form of a catalogue reply, its placeholders filled from args.
std::string FormatReply(const Reply& reply, std::initializer_list<std::string_view> args = {});

}  // namespace postern
