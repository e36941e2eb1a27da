// lib/smtp/message_stream.cc — see lib/smtp/message_stream.h.
#include "lib/smtp/message_stream.h"

#include <utility>

namespace postern {

ContentLimits ListenerContentLimits(const ListenerConfig& listener) {
  ContentLimits limits;
  limits.max_message_size = listener.max_message_size;
  limits.max_header_size = listener.max_header_size;
  limits.max_hop_count = listener.max_hop_count;
  limits.max_local_hop_count = listener.max_local_hop_count;
  return limits;
}

MessageStream::MessageStream(const ListenerConfig& listener, std::string myhostname,
                             Envelope envelope, std::string received_field,
                             std::vector<Action>* actions)
    : actions_(actions),
      queue_id_(envelope.queue_id),
      report_first_attempt_(listener.acknowledgement_delay.count() > 0),
      reader_(ListenerContentLimits(listener), std::move(myhostname), envelope.body,
              listener.bare_newline),
      pending_(std::move(received_field)) {
  AppendAction(actions_, action::BeginMessage{std::move(envelope)});
}

size_t MessageStream::ReadData(std::string_view input, bool* complete) {
  size_t used = reader_.ReadData(input, &pending_, complete);
  HandOut();
  return used;
}

void MessageStream::ReadChunk(std::string_view octets) {
  reader_.ReadChunk(octets, &pending_);
  HandOut();
}

void MessageStream::HandOut() {
  if (!open_) return;
  if (reader_.verdict() != ContentVerdict::kAccepted) {
    AppendAction(actions_, action::AbortMessage{});
    open_ = false;
    pending_.clear();
    return;
  }
  size_t handed_out = 0;
  while (pending_.size() - handed_out >= kMessageDataPiece) {
    AppendAction(actions_, action::MessageData{pending_.substr(handed_out, kMessageDataPiece)});
    handed_out += kMessageDataPiece;
  }
  pending_.erase(0, handed_out);
}

ContentVerdict MessageStream::Finish() {
  reader_.Finish();
  HandOut();
  ContentVerdict verdict = reader_.verdict();
  if (verdict != ContentVerdict::kAccepted) return verdict;
  if (!pending_.empty()) AppendAction(actions_, action::MessageData{std::exchange(pending_, {})});
  AppendAction(actions_, action::EndMessage{report_first_attempt_});
  open_ = false;
  return verdict;
}

void MessageStream::Abandon() {
  if (open_) AppendAction(actions_, action::AbortMessage{});
  open_ = false;
}

}  // namespace postern
