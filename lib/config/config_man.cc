// lib/config/config_man.cc — see lib/config/config_man.h.
//
// Owns the roff spelling of the key table: type names, how defaults are
// stated, escaping and line wrapping. Never reads or writes files.
#include "lib/config/config_man.h"

#include "lib/config/config_keys.h"

namespace postern {
namespace {

constexpr std::string_view kBeginMarker = ".\\\" BEGIN KEYS";
constexpr std::string_view kEndMarker = ".\\\" END KEYS";
constexpr size_t kWrapColumn = 78;

std::string TypeName(const ConfigKey& key) {
  switch (key.type) {
    case KeyType::kString:
      return "text";
    case KeyType::kPath:
      return "file name";
    case KeyType::kBool:
      return "yes or no";
    case KeyType::kCount:
      return "count";
    case KeyType::kSize:
      return "size";
    case KeyType::kDuration:
      return "duration";
    case KeyType::kWords:
      return "list of words";
    case KeyType::kDomains:
      return "list of domains";
    case KeyType::kNetworks:
      return "list of networks";
    case KeyType::kBindAddresses:
      return "list of bind addresses";
    case KeyType::kNextHops:
      return "list of next hops";
    case KeyType::kRole:
      return "gateway or relay";
    case KeyType::kChoice:
      return ChoiceWords(key.choices);
  }
  return "?";
}

// Text that roff shows as written: backslashes escaped, and in literal
// values a hyphen is a minus so that it survives copy and paste, and a lone
// colon is followed by a break point (\:) so that a long value such as a
// TLS priority string can be broken across lines without a hyphen (an IPv6
// address's "::" is not broken).
std::string Escape(std::string_view text, bool literal) {
  std::string escaped;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      escaped += "\\e";
    } else if (c == '-' && literal) {
      escaped += "\\-";
    } else if (c == ':' && literal && (i == 0 || text[i - 1] != ':') &&
               (i + 1 == text.size() || text[i + 1] != ':')) {
      escaped += ":\\:";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

// A literal value in bold; \% keeps roff from hyphenating it.
std::string Bold(std::string_view value) { return "\\fB\\%" + Escape(value, true) + "\\fR"; }

// Fills text into lines of at most kWrapColumn characters (a longer word
// stands alone); a line that would start with a control character is
// protected with \&.
std::string Wrap(const std::string& text) {
  std::string out;
  std::string line;
  auto flush = [&] {
    if (line.empty()) return;
    if (line.front() == '.' || line.front() == '\'') out += "\\&";
    out += line + "\n";
    line.clear();
  };
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find(' ', i);
    if (end == std::string::npos) end = text.size();
    std::string_view word(text.data() + i, end - i);
    if (!line.empty() && line.size() + 1 + word.size() > kWrapColumn) flush();
    if (!word.empty()) {
      if (!line.empty()) line += ' ';
      line += word;
    }
    i = end + 1;
  }
  flush();
  return out;
}

std::string DefaultSentence(const ConfigKey& key) {
  if (!key.default_doc.empty()) return "Default: " + Escape(key.default_doc, false) + ".";
  if (key.relay_default) {
    return "Default: " + Bold(key.default_value) + " on a gateway listener, " +
           Bold(*key.relay_default) + " on a relay listener.";
  }
  if (key.default_value.empty()) return "Default: empty.";
  return "Default: " + Bold(key.default_value) + ".";
}

// `.TP`, the name, then the type, the default and the paragraph, each on a
// line of its own.
std::string RenderKey(const ConfigKey& key) {
  std::string type = "Type: " + TypeName(key) + ".";
  if (key.scope == KeyScope::kListenerOnly) type += " Only inside a listener section.";
  std::string default_text = DefaultSentence(key);
  if (key.minimum != 0) default_text += " At least " + std::to_string(key.minimum) + ".";
  if (key.maximum != UINT32_MAX) default_text += " At most " + std::to_string(key.maximum) + ".";
  return ".TP\n.B " + std::string(key.name) + "\n" + Wrap(type) + ".br\n" + Wrap(default_text) +
         ".br\n" + Wrap(Escape(key.description, false));
}

// Where the first line at or after from that starts with marker begins, or
// npos.
size_t FindLine(std::string_view page, std::string_view marker, size_t from) {
  for (size_t at = page.find(marker, from); at != std::string_view::npos;
       at = page.find(marker, at + 1)) {
    if (at == 0 || page[at - 1] == '\n') return at;
  }
  return std::string_view::npos;
}

}  // namespace

std::string RenderKeysRoff() {
  std::string roff;
  bool in_listener_keys = false;
  roff += ".SS \"Global keys\"\n";
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.scope != KeyScope::kGlobal && !in_listener_keys) {
      roff += ".SS \"Listener keys\"\n";
      in_listener_keys = true;
    }
    roff += RenderKey(key);
  }
  return roff;
}

Result<std::string> SpliceKeysIntoManPage(std::string_view page) {
  size_t begin_line = FindLine(page, kBeginMarker, 0);
  size_t begin = begin_line == std::string_view::npos ? begin_line : page.find('\n', begin_line);
  if (begin == std::string_view::npos) {
    return Status::Error("no line starting with " + std::string(kBeginMarker));
  }
  size_t end = FindLine(page, kEndMarker, begin + 1);
  if (end == std::string_view::npos) {
    return Status::Error("no line starting with " + std::string(kEndMarker) + " after the " +
                         std::string(kBeginMarker) + " line");
  }
  return std::string(page.substr(0, begin + 1)) + RenderKeysRoff() + std::string(page.substr(end));
}

}  // namespace postern
