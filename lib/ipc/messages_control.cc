// lib/ipc/messages_control.cc — payload layouts of lib/ipc/messages_control.h.
#include "lib/ipc/messages_control.h"

#include "lib/ipc/payload.h"

namespace postern::ipc {

std::string ControlRequest::Encode() const {
  PayloadWriter w;
  w.Str(verb).U32(static_cast<uint32_t>(args.size()));
  for (const std::string& arg : args) w.Str(arg);
  return w.Take();
}

Result<ControlRequest> ControlRequest::Decode(std::string_view payload) {
  ControlRequest m;
  uint32_t argc = 0;
  PayloadReader r(payload);
  r.Str(&m.verb);
  if (r.U32(&argc) && argc > kMaxControlArgs)
    return Status::Error("malformed kControlRequest: " + std::to_string(argc) +
                         " arguments, more than " + std::to_string(kMaxControlArgs));
  for (uint32_t i = 0; i < argc; ++i)
    if (!r.Str(&m.args.emplace_back())) break;
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

std::string ControlReply::Encode() const {
  return PayloadWriter().Bool(ok).Str(text).Str(more).Take();
}

Result<ControlReply> ControlReply::Decode(std::string_view payload) {
  ControlReply m;
  PayloadReader r(payload);
  r.Bool(&m.ok);
  r.Str(&m.text);
  r.Str(&m.more);
  if (Status s = r.Finish(MsgTypeName(kType)); !s.ok()) return s;
  return m;
}

}  // namespace postern::ipc
