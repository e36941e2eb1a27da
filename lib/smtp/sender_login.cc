// lib/smtp/sender_login.cc — see lib/smtp/sender_login.h.
#include "lib/smtp/sender_login.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lib/base/ascii.h"

namespace postern {
namespace {

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = AsciiToLower(c);
  return lower;
}

// The words of a line, split at white space and commas.
std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  auto separator = [](char c) { return c == ' ' || c == '\t' || c == ',' || c == '\r'; };
  while (i < line.size()) {
    while (i < line.size() && separator(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !separator(line[i])) ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

}  // namespace

Result<SenderLoginMap> SenderLoginMap::Parse(std::string_view text, const std::string& file_name) {
  SenderLoginMap map;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    line = line.substr(0, line.find('#'));
    std::vector<std::string_view> words = Words(line);
    if (words.empty()) continue;
    std::string where = file_name + ":" + std::to_string(line_number) + ": ";
    if (words.front().find('@') == std::string_view::npos)
      return Status::Error(where + "\"" + std::string(words.front()) +
                           "\" is not an address (local@domain)");
    if (words.size() < 2)
      return Status::Error(where + "no login follows the address " + std::string(words.front()));
    std::set<std::string>& logins = map.logins_by_address_[Lower(words.front())];
    for (size_t i = 1; i < words.size(); ++i) logins.insert(Lower(words[i]));
  }
  return map;
}

Result<SenderLoginMap> SenderLoginMap::Load(const std::string& path) {
  if (path.empty()) return SenderLoginMap();
  std::ifstream file(path);
  if (!file) return Status::Error("cannot read sender_login_map " + path + ": " + strerror(errno));
  std::stringstream text;
  text << file.rdbuf();
  return Parse(text.str(), path);
}

bool SenderLoginMap::Allows(std::string_view login, std::string_view sender,
                            const std::vector<std::string>& local_domains) const {
  if (sender.empty()) return true;
  std::string address = Lower(sender);
  std::string user = Lower(login);
  if (user.find('@') != std::string::npos) {
    if (address == user) return true;
  } else {
    for (const std::string& domain : local_domains) {
      if (address == user + "@" + Lower(domain)) return true;
    }
  }
  auto listed = logins_by_address_.find(address);
  return listed != logins_by_address_.end() && listed->second.count(user) != 0;
}

}  // namespace postern
