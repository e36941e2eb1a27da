// lib/smtp/sender_login.cc — see lib/smtp/sender_login.h.
#include "lib/smtp/sender_login.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lib/base/ascii.h"
#include "lib/config/text_lines.h"

namespace postern {
Result<SenderLoginMap> SenderLoginMap::Parse(std::string_view text, const std::string& file_name) {
  SenderLoginMap map;
  Status read = ForEachContentLine(text, [&](int line_number, std::string_view line) {
    std::vector<std::string_view> words = SplitWords(line);
    std::string where = file_name + ":" + std::to_string(line_number) + ": ";
    if (words.front().find('@') == std::string_view::npos)
      return Status::Error(where + "\"" + std::string(words.front()) +
                           "\" is not an address (local@domain)");
    if (words.size() < 2)
      return Status::Error(where + "no login follows the address " + std::string(words.front()));
    std::set<std::string>& logins = map.logins_by_address_[AsciiLowerCase(words.front())];
    for (size_t i = 1; i < words.size(); ++i) logins.insert(AsciiLowerCase(words[i]));
    return Status::Ok();
  });
  if (!read.ok()) return read;
  return map;
}

Result<SenderLoginMap> SenderLoginMap::Load(const std::string& path) {
  if (path.empty()) return SenderLoginMap();
  std::ifstream file(path);
  if (!file) return Status::FromErrno("cannot read sender_login_map " + path, errno);
  std::stringstream text;
  text << file.rdbuf();
  return Parse(text.str(), path);
}

bool SenderLoginMap::Allows(std::string_view login, std::string_view sender,
                            const std::vector<std::string>& local_domains) const {
  if (sender.empty()) return true;
  std::string address = AsciiLowerCase(sender);
  std::string user = AsciiLowerCase(login);
  if (user.find('@') != std::string::npos) {
    if (address == user) return true;
  } else {
    for (const std::string& domain : local_domains) {
      if (address == user + "@" + AsciiLowerCase(domain)) return true;
    }
  }
  auto listed = logins_by_address_.find(address);
  return listed != logins_by_address_.end() && listed->second.count(user) != 0;
}

}  // namespace postern
