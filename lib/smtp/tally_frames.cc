// lib/smtp/tally_frames.cc — see lib/smtp/tally_frames.h.
#include "lib/smtp/tally_frames.h"

namespace postern {

std::vector<ipc::SessionTally> TallyFrames(const std::string& listener,
                                           const ServerSession::Tally& tally) {
  std::vector<ipc::SessionTally> frames(1);
  frames[0].listener = listener;
  frames[0].messages = tally.messages;
  frames[0].bytes = tally.bytes;
  for (const auto& [refusal, count] : tally.refused) {
    if (frames.back().refused.size() == ipc::SessionTally::kMaxRefusalKinds)
      frames.emplace_back().listener = listener;
    ipc::SessionTally& frame = frames.back();
    frame.refused.push_back(
        {refusal.command, static_cast<uint16_t>(refusal.code), refusal.enhanced, count});
    frame.rejections += count;
  }
  return frames;
}

}  // namespace postern
