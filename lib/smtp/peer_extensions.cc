// lib/smtp/peer_extensions.cc — what a next hop's EHLO reply offers.
#include "lib/smtp/peer_extensions.h"

#include <algorithm>
#include <string_view>

#include "lib/base/ascii.h"
#include "lib/config/text_lines.h"

namespace postern {

bool PeerExtensions::OffersAuth(const std::string& mechanism) const {
  return std::find(auth_mechanisms.begin(), auth_mechanisms.end(), AsciiUpperCase(mechanism)) !=
         auth_mechanisms.end();
}

PeerExtensions ParseEhloReply(const SmtpReply& reply) {
  PeerExtensions offer;
  for (size_t i = 1; i < reply.lines.size(); ++i) {
    std::string line = reply.lines[i];
    // "AUTH=LOGIN PLAIN" is "AUTH LOGIN PLAIN".
    if (line.size() > 5 && AsciiEqualsIgnoreCase(std::string_view(line).substr(0, 5), "AUTH="))
      line[4] = ' ';
    std::vector<std::string_view> words = SplitWords(line);
    if (words.empty()) continue;
    std::string keyword = AsciiUpperCase(words[0]);
    if (keyword == "SIZE") {
      offer.size = true;
      uint64_t limit = 0;
      if (words.size() > 1 && ParseDecimal(words[1], &limit)) offer.size_limit = limit;
    } else if (keyword == "PIPELINING") {
      offer.pipelining = true;
    } else if (keyword == "8BITMIME") {
      offer.eightbitmime = true;
    } else if (keyword == "BINARYMIME") {
      offer.binarymime = true;
    } else if (keyword == "CHUNKING") {
      offer.chunking = true;
    } else if (keyword == "DSN") {
      offer.dsn = true;
    } else if (keyword == "ENHANCEDSTATUSCODES") {
      offer.enhanced_status_codes = true;
    } else if (keyword == "STARTTLS") {
      offer.starttls = true;
    } else if (keyword == "AUTH") {
      for (size_t w = 1; w < words.size(); ++w) {
        std::string mechanism = AsciiUpperCase(words[w]);
        if (!offer.OffersAuth(mechanism)) offer.auth_mechanisms.push_back(mechanism);
      }
    }
  }
  offer.binarymime = offer.binarymime && offer.chunking;
  return offer;
}

}  // namespace postern
