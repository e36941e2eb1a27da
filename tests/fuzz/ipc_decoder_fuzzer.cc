// tests/fuzz/ipc_decoder_fuzzer.cc — libFuzzer target: IPC frames from a hostile peer.
//
// Feeds arbitrary bytes to the stream decoder (in two pieces, split by the
// first byte), to the datagram decoder, and reads every frame's payload as
// the receivers do (an envelope, a hand-off), checking that nothing reads
// out of bounds and that a failed reader never claims success.
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/queue/envelope.h"
#include "lib/ipc/ipc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  postern::ipc::FrameDecoder decoder;
  size_t split = size == 0 ? 0 : data[0] % (size + 1);
  decoder.Feed(bytes.substr(0, split));
  decoder.Feed(bytes.substr(split));
  for (int i = 0; i < 64; ++i) {
    auto next = decoder.Next();
    if (!next.ok() || !next->has_value()) break;
    const std::string& payload = (*next)->payload;
    postern::Envelope::Decode(payload);
    postern::ipc::PayloadReader reader(payload);
    uint64_t id;
    std::string text;
    uint16_t port;
    if (reader.U64(&id) && reader.Str(&text) && reader.U16(&port)) (void)reader.Done();
  }
  postern::ipc::DecodeDatagram(bytes);
  return 0;
}
