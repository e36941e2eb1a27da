// qmgr/printable.cc — see qmgr/printable.h.
#include "qmgr/printable.h"

namespace postern {

std::string Printable(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

}  // namespace postern
