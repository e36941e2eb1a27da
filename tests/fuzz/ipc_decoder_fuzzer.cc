// tests/fuzz/ipc_decoder_fuzzer.cc — libFuzzer target: IPC frames from a hostile peer.
//
// Feeds arbitrary bytes to the stream decoder (in two pieces, split by the
// first byte) and to the datagram decoder, and decodes every frame's payload
// as every message type of lib/ipc/messages_*.h and as an envelope. Checks
// that nothing reads out of bounds, that a message that decodes encodes back
// to the very payload it came from (so it decodes equal again), that a failed
// decode says why, and that a PayloadReader that failed never reports
// success afterwards.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/ipc/frame.h"
#include "lib/ipc/messages_auth.h"
#include "lib/ipc/messages_control.h"
#include "lib/ipc/messages_queue.h"
#include "lib/ipc/messages_worker.h"
#include "lib/ipc/payload.h"
#include "lib/queue/envelope.h"

namespace {

using namespace postern;

void Check(bool condition, const char* what) {
  if (condition) return;
  fprintf(stderr, "ipc_decoder_fuzzer: %s\n", what);
  abort();
}

template <typename Message>
void DecodeAs(std::string_view payload) {
  Result<Message> message = Message::Decode(payload);
  if (!message.ok()) {
    Check(!message.status().message().empty(), "a failed decode does not say why");
    return;
  }
  std::string again = message->Encode();
  Check(again == payload, "a decoded message does not encode back to its payload");
  Result<Message> twice = Message::Decode(again);
  Check(twice.ok() && *twice == *message, "a re-encoded message does not decode equal");
  Check(ipc::DecodeAs<Message>(ipc::Frame{Message::kType, again}).ok(),
        "a message does not decode from its own frame");
}

template <typename... Messages>
void DecodeAsEach(std::string_view payload) {
  (DecodeAs<Messages>(payload), ...);
}

void DecodeAsEveryMessage(std::string_view payload) {
  DecodeAsEach<ipc::Handoff, ipc::HandoffAck, ipc::HandoffRefused, ipc::ConnClosed, ipc::Drain,
               ipc::MailCheck, ipc::MailCheckReply, ipc::ServiceConnect, ipc::ServiceSocket,
               ipc::TlsTicketKey, ipc::SessionTally, ipc::MailCheckPolicy>(payload);
  DecodeAsEach<ipc::MessageBegin, ipc::MessageData, ipc::MessageEnd, ipc::MessageAbort,
               ipc::MessageResult, ipc::FirstAttemptEnded>(payload);
  DecodeAsEach<ipc::Ping, ipc::Pong, ipc::AuthStart, ipc::AuthStep, ipc::AuthCancel, ipc::AuthReply,
               ipc::RecipientQuery, ipc::RecipientAnswer>(payload);
  DecodeAsEach<ipc::ControlRequest, ipc::ControlReply>(payload);
  Envelope::Decode(payload);
}

// Reads fields chosen by the payload's own bytes: once a read has failed,
// neither a later read, Done() nor Finish() may report success.
void ReadArbitraryFields(std::string_view payload) {
  ipc::PayloadReader reader(payload);
  bool failed = false;
  for (size_t i = 0; i < payload.size() && i < 16; ++i) {
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    bool flag;
    std::string text;
    ipc::MailVerdict verdict;
    bool read = false;
    switch (static_cast<uint8_t>(payload[i]) % 7) {
      case 0:
        read = reader.U8(&u8);
        break;
      case 1:
        read = reader.U16(&u16);
        break;
      case 2:
        read = reader.U32(&u32);
        break;
      case 3:
        read = reader.U64(&u64);
        break;
      case 4:
        read = reader.Str(&text);
        break;
      case 5:
        read = reader.Bool(&flag);
        break;
      default:
        read = reader.Enum(&verdict, ipc::MailVerdict::kRateLimitExceeded,
                           ipc::MailVerdict::kInsufficientResources);
        break;
    }
    Check(!(failed && read), "a read succeeded after a failed one");
    failed = failed || !read;
  }
  if (failed) {
    Check(!reader.Done(), "a failed reader reports Done()");
    Check(!reader.Finish("fields").ok(), "a failed reader finishes ok");
  }
  Check(reader.Done() == reader.Finish("fields").ok(), "Done() and Finish() disagree");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ipc::FrameDecoder decoder;
  size_t split = size == 0 ? 0 : data[0] % (size + 1);
  decoder.Feed(bytes.substr(0, split));
  decoder.Feed(bytes.substr(split));
  for (int i = 0; i < 64; ++i) {
    auto next = decoder.Next();
    if (!next.ok() || !next->has_value()) break;
    DecodeAsEveryMessage((*next)->payload);
    ReadArbitraryFields((*next)->payload);
  }
  if (Result<ipc::Frame> frame = ipc::DecodeDatagram(bytes); frame.ok())
    DecodeAsEveryMessage(frame->payload);
  // Payloads without a frame around them reach the decoders more directly.
  DecodeAsEveryMessage(bytes);
  ReadArbitraryFields(bytes);
  return 0;
}
