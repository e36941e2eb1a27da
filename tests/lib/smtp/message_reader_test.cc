// tests/lib/smtp/message_reader_test.cc — DATA decoding and content inspection.
#define BOOST_TEST_DYN_LINK
#include "lib/smtp/message_reader.h"

#include <boost/test/unit_test.hpp>
#include <random>
#include <string>
#include <vector>

namespace postern {
namespace {

struct Decoded {
  std::string content;
  size_t consumed = 0;
  bool complete = false;
};

// Decodes `input` in pieces of `step` bytes (0: all at once), stopping at
// the end of data like the session does.
Decoded Decode(const std::string& input, size_t step = 0,
               BareNewline bare_newline = BareNewline::kReject) {
  DotDecoder decoder(bare_newline);
  Decoded result;
  size_t piece = step == 0 ? input.size() : step;
  while (result.consumed < input.size() && !result.complete) {
    std::string_view rest = std::string_view(input).substr(result.consumed, piece);
    result.consumed += decoder.Decode(rest, &result.content, &result.complete);
  }
  return result;
}

ContentLimits SpecLimits() {
  ContentLimits limits;
  limits.max_message_size = 10485760;
  limits.max_header_size = 65536;
  limits.max_hop_count = 60;
  limits.max_local_hop_count = 12;
  return limits;
}

ContentScanner ScanAll(const std::string& content, ContentLimits limits = SpecLimits(),
                       BodyType body = BodyType::k7Bit, size_t step = 0) {
  ContentScanner scanner(limits, "mail.example.test", body);
  size_t piece = step == 0 ? content.size() : step;
  for (size_t i = 0; i < content.size(); i += piece) {
    scanner.Scan(std::string_view(content).substr(i, piece));
  }
  scanner.Finish();
  return scanner;
}

std::string ReceivedFields(int count, const std::string& by) {
  std::string header;
  for (int i = 0; i < count; ++i)
    header += "Received: from h" + std::to_string(i) + ".example by " + by + "; date\r\n";
  return header;
}

// Most cases below hold in both modes; those about bare LF use reject, the
// behaviour before bare_newline, and dot_decoder_normalize has the others.
BOOST_AUTO_TEST_SUITE(dot_decoder)

BOOST_AUTO_TEST_CASE(ends_at_crlf_dot_crlf_and_keeps_the_last_crlf) {
  Decoded d = Decode("Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n");
  BOOST_TEST(d.complete);
  BOOST_TEST(d.content == "Subject: hi\r\n\r\nbody\r\n");
  BOOST_TEST(d.consumed == std::string("Subject: hi\r\n\r\nbody\r\n.\r\n").size());
}

BOOST_AUTO_TEST_CASE(an_empty_message) {
  Decoded d = Decode(".\r\n");
  BOOST_TEST(d.complete);
  BOOST_TEST(d.content.empty());
  BOOST_TEST(d.consumed == 3u);
}

BOOST_AUTO_TEST_CASE(leading_dots_are_removed_once) {
  // RFC 5321 4.5.2: the first character of a line that is a period is deleted.
  Decoded d = Decode("..\r\n...x\r\n.y\r\na.b\r\n.\r\n");
  BOOST_TEST(d.content == ".\r\n..x\r\ny\r\na.b\r\n");
}

BOOST_AUTO_TEST_CASE(smuggling_forms_are_not_the_end_of_data) {
  // Each of these ends the data in some other server; none may end it here.
  for (const std::string& fake :
       {std::string("\n.\n"), std::string("\n.\r\n"), std::string("\r\n.\n"),
        std::string("\r.\r\n"), std::string("\r\n.\r"), std::string("\r\n.\rX\r\n")}) {
    BOOST_TEST_CONTEXT(fake.size()) {
      std::string input = "a" + fake + "MAIL FROM:<x@y.example>\r\n";
      Decoded d = Decode(input);
      BOOST_TEST(!d.complete);
      BOOST_TEST(d.consumed == input.size());
      Decoded bytewise = Decode(input, 1);
      BOOST_TEST(bytewise.content == d.content);
    }
  }
  BOOST_TEST(Decode("a\n.\nb\r\n.\r\n").content == "a\n.\nb\r\n");
  BOOST_TEST(Decode("a\r\n.\nb\r\n.\r\n").content == "a\r\n\nb\r\n");
  BOOST_TEST(Decode("a\r\n.\rX\r\n.\r\n").content == "a\r\n\rX\r\n");
}

BOOST_AUTO_TEST_CASE(every_split_gives_the_same_result) {
  std::string input =
      "From: a@b.example\r\n\r\n..dot\r\n.\rodd\r\n\r\r\nline\n.\n\r\nlast\r\n.\r\nNEXT\r\n";
  Decoded whole = Decode(input);
  BOOST_REQUIRE(whole.complete);
  for (size_t step = 1; step < input.size(); ++step) {
    Decoded split = Decode(input, step);
    BOOST_TEST_CONTEXT(step) {
      BOOST_TEST(split.content == whole.content);
      BOOST_TEST(split.consumed == whole.consumed);
      BOOST_TEST(split.complete);
    }
  }
}

BOOST_AUTO_TEST_CASE(nul_and_eight_bit_octets_pass_through) {
  std::string body("a\0b\xff\r\n", 6);
  BOOST_TEST(Decode(body + ".\r\n").content == body);
}

BOOST_AUTO_TEST_CASE(long_lines_pass_through_unchanged) {
  std::string line(5000, 'L');
  BOOST_TEST(Decode(line + "\r\n.\r\n").content == line + "\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

// bare_newline = normalize (issue 8 point 7, Postfix 3.9's default).
BOOST_AUTO_TEST_SUITE(dot_decoder_normalize)

Decoded Normalized(const std::string& input, size_t step = 0) {
  return Decode(input, step, BareNewline::kNormalize);
}

BOOST_AUTO_TEST_CASE(lines_ending_in_lf_alone_are_stored_with_crlf) {
  Decoded d = Normalized("Subject: hi\n\nline one\nline two\r\n.\r\nQUIT\r\n");
  BOOST_TEST(d.complete);
  BOOST_TEST(d.content == "Subject: hi\r\n\r\nline one\r\nline two\r\n");
  BOOST_TEST(d.consumed == std::string("Subject: hi\n\nline one\nline two\r\n.\r\n").size());
}

BOOST_AUTO_TEST_CASE(only_crlf_dot_crlf_ends_the_data) {
  // The "." line of each fake end is an ordinary line: its dot is
  // transparency, so it is stored as an empty line.
  for (const std::string& fake :
       {std::string("\n.\n"), std::string("\n.\r\n"), std::string("\r\n.\n")}) {
    BOOST_TEST_CONTEXT(fake.size() << (fake[0] == '\n' ? " LF" : " CRLF")) {
      std::string input = "a" + fake + "MAIL FROM:<x@y.example>\r\n";
      Decoded d = Normalized(input);
      BOOST_TEST(!d.complete);
      BOOST_TEST(d.consumed == input.size());
      BOOST_TEST(d.content == "a\r\n\r\nMAIL FROM:<x@y.example>\r\n");
      BOOST_TEST(Normalized(input, 1).content == d.content);
    }
  }
  BOOST_TEST(Normalized("a\n.\nb\r\n.\r\n").content == "a\r\n\r\nb\r\n");
  // After LF "." CRLF the next line follows a CRLF: "." CRLF ends there.
  Decoded d = Normalized("a\n.\r\n.\r\nQUIT\r\n");
  BOOST_TEST(d.complete);
  BOOST_TEST(d.content == "a\r\n\r\n");
  // A dot-stuffed line after a bare LF loses its dot as any other.
  BOOST_TEST(Normalized("a\n..b\n.c\r\n.\r\n").content == "a\r\n.b\r\nc\r\n");
}

BOOST_AUTO_TEST_CASE(bare_cr_stays_content) {
  // The scanner refuses it (bare_cr_is_refused_in_both_modes below).
  BOOST_TEST(Normalized("a\rb\r\n.\r\n").content == "a\rb\r\n");
  BOOST_TEST(!Normalized("a\r\n.\rX\r\n").complete);
  BOOST_TEST(Normalized("a\r\r\n.\r\n").content == "a\r\r\n");
}

BOOST_AUTO_TEST_CASE(every_split_gives_the_same_result) {
  std::string input =
      "From: a@b.example\n\n..dot\n.\rodd\r\n\r\r\nline\n.\n\r\n.\n.\r\nlast\r\n.\r\nNEXT\r\n";
  Decoded whole = Normalized(input);
  BOOST_REQUIRE(whole.complete);
  for (size_t step = 1; step < input.size(); ++step) {
    Decoded split = Normalized(input, step);
    BOOST_TEST_CONTEXT(step) {
      BOOST_TEST(split.content == whole.content);
      BOOST_TEST(split.consumed == whole.consumed);
      BOOST_TEST(split.complete);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(content_scanner)

BOOST_AUTO_TEST_CASE(counts_size_and_header_size) {
  ContentScanner s = ScanAll("A: b\r\nC: d\r\n\r\nbody\r\n");
  BOOST_TEST((s.verdict() == ContentVerdict::kAccepted));
  BOOST_TEST(s.size() == 20u);
  BOOST_TEST(s.header_size() == 12u);
}

BOOST_AUTO_TEST_CASE(header_without_empty_line_is_the_whole_message) {
  BOOST_TEST(ScanAll("A: b\r\nC: d\r\n").header_size() == 12u);
  BOOST_TEST(ScanAll("\r\nbody\r\n").header_size() == 0u);
}

BOOST_AUTO_TEST_CASE(header_size_limit_is_exact) {
  ContentLimits limits = SpecLimits();
  limits.max_header_size = 12;
  BOOST_TEST(
      (ScanAll("A: b\r\nC: d\r\n\r\nbody\r\n", limits).verdict() == ContentVerdict::kAccepted));
  BOOST_TEST((ScanAll("A: b\r\nC: de\r\n\r\nbody\r\n", limits).verdict() ==
              ContentVerdict::kHeaderSizeExceeded));
  // The same, byte by byte: the CR of the empty line is not header.
  BOOST_TEST((ScanAll("A: b\r\nC: d\r\n\r\nbody\r\n", limits, BodyType::k7Bit, 1).verdict() ==
              ContentVerdict::kAccepted));
}

BOOST_AUTO_TEST_CASE(spec_default_header_limit_64k) {
  std::string field = "X-Filler: " + std::string(65536 - 12, 'f') + "\r\n";  // 65536 octets
  BOOST_REQUIRE(field.size() == 65536u);
  BOOST_TEST((ScanAll(field + "\r\nbody\r\n").verdict() == ContentVerdict::kAccepted));
  std::string longer = "X-Filler: " + std::string(65536 - 11, 'f') + "\r\n";
  BOOST_TEST((ScanAll(longer + "\r\nbody\r\n").verdict() == ContentVerdict::kHeaderSizeExceeded));
}

BOOST_AUTO_TEST_CASE(message_size_limit_is_exact) {
  ContentLimits limits = SpecLimits();
  limits.max_message_size = 10;
  BOOST_TEST((ScanAll("\r\n12345678", limits).verdict() == ContentVerdict::kAccepted));
  BOOST_TEST((ScanAll("\r\n123456789", limits).verdict() == ContentVerdict::kMessageSizeExceeded));
  BOOST_TEST((ScanAll("\r\n123456789", limits, BodyType::k7Bit, 3).verdict() ==
              ContentVerdict::kMessageSizeExceeded));
}

BOOST_AUTO_TEST_CASE(zero_limits_are_off) {
  ContentLimits off;
  std::string huge_header = ReceivedFields(500, "mail.example.test") + std::string(100000, 'h');
  BOOST_TEST(
      (ScanAll(huge_header + "\r\n\r\nbody\r\n", off).verdict() == ContentVerdict::kAccepted));
}

BOOST_AUTO_TEST_CASE(received_fields_are_counted) {
  std::string message =
      "Received: from a by b; d\r\n"
      "received : from c\r\n  by d; e\r\n"
      "X-Received: not one\r\n"
      "Subject: Received: no\r\n"
      "RECEIVED:x\r\n"
      "\r\n"
      "Received: in the body\r\n";
  ContentScanner s = ScanAll(message);
  BOOST_TEST(s.received_count() == 3u);
  BOOST_TEST(s.local_received_count() == 0u);
}

BOOST_AUTO_TEST_CASE(local_hops_name_myhostname_in_by) {
  std::string message =
      "Received: from x.example by MAIL.Example.Test (postern) with ESMTP id 1; d\r\n"
      "Received: from y.example\r\n\tby mail.example.test with SMTP; d\r\n"
      "Received: from z.example (comment by mail.example.test) by other.example; d\r\n"
      "Received: from mail.example.test by other.example; d\r\n"
      "Received: from w by mail.example.test.evil; d\r\n"
      "Received: from v by other.example; by mail.example.test\r\n"
      "Received: from u by (c) mail.example.test; d\r\n"
      "\r\n";
  ContentScanner s = ScanAll(message);
  BOOST_TEST(s.received_count() == 7u);
  BOOST_TEST(s.local_received_count() == 3u);
  BOOST_TEST(ScanAll(message, SpecLimits(), BodyType::k7Bit, 1).local_received_count() == 3u);
}

BOOST_AUTO_TEST_CASE(hop_count_limits) {
  std::string sixty = ReceivedFields(60, "relay.example");
  BOOST_TEST((ScanAll(sixty + "\r\nbody\r\n").verdict() == ContentVerdict::kAccepted));
  BOOST_TEST((ScanAll(sixty + ReceivedFields(1, "relay.example") + "\r\nbody\r\n").verdict() ==
              ContentVerdict::kHopCountExceeded));
  std::string twelve = ReceivedFields(12, "mail.example.test");
  BOOST_TEST((ScanAll(twelve + "\r\nbody\r\n").verdict() == ContentVerdict::kAccepted));
  BOOST_TEST((ScanAll(twelve + ReceivedFields(1, "mail.example.test") + "\r\n").verdict() ==
              ContentVerdict::kLocalHopCountExceeded));
  // The last field before the end of content (no empty line) counts too.
  BOOST_TEST(
      (ScanAll(sixty + "Received: x by y; z\r\n").verdict() == ContentVerdict::kHopCountExceeded));
}

BOOST_AUTO_TEST_CASE(bare_line_endings_fail_the_message) {
  for (const std::string& content :
       {std::string("A: b\n\r\nbody\r\n"), std::string("A: b\r\n\r\nbo\ndy\r\n"),
        std::string("A: b\r\n\r\nbo\rdy\r\n"), std::string("A: b\r\n\r\nbody\r"),
        std::string("A: b\r\n\r\nbody\r\r\n"), std::string("\n")}) {
    BOOST_TEST_CONTEXT(content.size()) {
      BOOST_TEST((ScanAll(content).verdict() == ContentVerdict::kBareLineEnding));
      BOOST_TEST((ScanAll(content, SpecLimits(), BodyType::k7Bit, 1).verdict() ==
                  ContentVerdict::kBareLineEnding));
    }
  }
}

// The body is checked at its line breaks only: random bodies of CR, LF and
// text, in pieces of every size, get the verdict an octet-by-octet reading
// of RFC 5321 2.3.8 gives (every CR followed by LF, every LF preceded by CR).
BOOST_AUTO_TEST_CASE(random_bodies_get_the_verdict_of_an_octet_by_octet_check) {
  std::mt19937 random(5321);
  std::string_view alphabet = "aaaa\r\n";
  for (int round = 0; round < 300; ++round) {
    std::string body;
    size_t size = random() % 64;
    for (size_t i = 0; i < size; ++i) body += alphabet[random() % alphabet.size()];
    bool well_formed = true;
    for (size_t i = 0; i < body.size(); ++i) {
      bool after_cr = i > 0 && body[i - 1] == '\r';
      if (after_cr != (body[i] == '\n')) well_formed = false;
    }
    if (!body.empty() && body.back() == '\r') well_formed = false;
    std::string content = "A: b\r\n\r\n" + body;
    for (size_t step : {0, 1, 2, 5, 13}) {
      BOOST_TEST_CONTEXT("body " << round << " in pieces of " << step) {
        ContentVerdict verdict = ScanAll(content, SpecLimits(), BodyType::k7Bit, step).verdict();
        BOOST_TEST((verdict ==
                    (well_formed ? ContentVerdict::kAccepted : ContentVerdict::kBareLineEnding)));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(binarymime_bodies_may_hold_any_octet) {
  std::string content = std::string("A: b\r\n\r\n") + std::string("\n\r\0\r\r\n", 6);
  BOOST_TEST((ScanAll(content, SpecLimits(), BodyType::kBinaryMime).verdict() ==
              ContentVerdict::kAccepted));
  // LF alone still ends a header line when looking for the header's end.
  ContentScanner lf = ScanAll("A: b\nB: c\n\nbody", SpecLimits(), BodyType::kBinaryMime);
  BOOST_TEST(lf.header_size() == 10u);
}

BOOST_AUTO_TEST_CASE(the_first_limit_crossed_decides) {
  ContentLimits limits = SpecLimits();
  limits.max_message_size = 10;
  for (size_t step : {0, 1, 4}) {
    BOOST_TEST_CONTEXT(step) {
      BOOST_TEST((ScanAll("A\nBCDEFGHIJKLMNOP", limits, BodyType::k7Bit, step).verdict() ==
                  ContentVerdict::kBareLineEnding));
      // The 11th octet crosses the size limit before the LF after it is seen.
      BOOST_TEST((ScanAll("ABCDEFGHIJK\nL", limits, BodyType::k7Bit, step).verdict() ==
                  ContentVerdict::kMessageSizeExceeded));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(message_reader)

BOOST_AUTO_TEST_CASE(data_content_stops_flowing_once_over_a_limit) {
  ContentLimits limits = SpecLimits();
  limits.max_message_size = 8;
  MessageReader reader(limits, "mail.example.test", BodyType::k7Bit, BareNewline::kNormalize);
  std::string content;
  bool complete = false;
  size_t used = reader.ReadData("\r\nabc\r\n", &content, &complete);
  BOOST_TEST(used == 7u);
  BOOST_TEST(content == "\r\nabc\r\n");
  reader.ReadData("defghij\r\nmore\r\n", &content, &complete);
  BOOST_TEST((reader.verdict() == ContentVerdict::kMessageSizeExceeded));
  BOOST_TEST(content == "\r\nabc\r\n");
  used = reader.ReadData("still more\r\n.\r\nQUIT\r\n", &content, &complete);
  BOOST_TEST(complete);
  BOOST_TEST(used == std::string("still more\r\n.\r\n").size());
  BOOST_TEST(content == "\r\nabc\r\n");
}

BOOST_AUTO_TEST_CASE(chunks_are_content_without_dot_handling) {
  MessageReader reader(SpecLimits(), "mail.example.test", BodyType::k7Bit, BareNewline::kNormalize);
  std::string content;
  reader.ReadChunk("A: b\r\n\r\n.\r\n", &content);
  reader.ReadChunk("..x\r\n", &content);
  reader.Finish();
  BOOST_TEST((reader.verdict() == ContentVerdict::kAccepted));
  BOOST_TEST(content == "A: b\r\n\r\n.\r\n..x\r\n");
  BOOST_TEST(reader.scanner().size() == content.size());
}

// Sizes, header size and hops are those of the content as stored.
BOOST_AUTO_TEST_CASE(normalized_data_is_scanned_as_stored) {
  ContentLimits limits = SpecLimits();
  limits.max_header_size = 12;  // "A: b\r\nC: d\r\n"
  MessageReader reader(limits, "mail.example.test", BodyType::k7Bit, BareNewline::kNormalize);
  std::string content;
  bool complete = false;
  reader.ReadData("A: b\nC: d\n\nbody\n.\r\n", &content, &complete);
  BOOST_TEST(!complete);
  reader.ReadData("\r\n.\r\n", &content, &complete);
  BOOST_TEST(complete);
  reader.Finish();
  BOOST_TEST((reader.verdict() == ContentVerdict::kAccepted));
  BOOST_TEST(content == "A: b\r\nC: d\r\n\r\nbody\r\n\r\n\r\n");
  BOOST_TEST(reader.scanner().header_size() == 12u);
  BOOST_TEST(reader.scanner().size() == content.size());

  MessageReader over(limits, "mail.example.test", BodyType::k7Bit, BareNewline::kNormalize);
  content.clear();
  over.ReadData("A: b\nC: de\n\n.\r\n", &content, &complete);
  BOOST_TEST((over.verdict() == ContentVerdict::kHeaderSizeExceeded));

  MessageReader hops(SpecLimits(), "mail.example.test", BodyType::k7Bit, BareNewline::kNormalize);
  std::string fields = ReceivedFields(61, "relay.example");
  for (size_t at = fields.find("\r\n"); at != std::string::npos; at = fields.find("\r\n", at))
    fields.erase(at, 1);
  content.clear();
  hops.ReadData(fields + "\nbody\r\n.\r\n", &content, &complete);
  hops.Finish();
  BOOST_TEST((hops.verdict() == ContentVerdict::kHopCountExceeded));
}

BOOST_AUTO_TEST_CASE(bare_cr_is_refused_in_both_modes) {
  for (BareNewline mode : {BareNewline::kNormalize, BareNewline::kReject}) {
    MessageReader reader(SpecLimits(), "mail.example.test", BodyType::k7Bit, mode);
    std::string content;
    bool complete = false;
    reader.ReadData("a\rb\r\n.\r\n", &content, &complete);
    reader.Finish();
    BOOST_TEST((reader.verdict() == ContentVerdict::kBareLineEnding));
  }
  MessageReader reject(SpecLimits(), "mail.example.test", BodyType::k7Bit, BareNewline::kReject);
  std::string content;
  bool complete = false;
  reject.ReadData("a\nb\r\n.\r\n", &content, &complete);
  reject.Finish();
  BOOST_TEST((reject.verdict() == ContentVerdict::kBareLineEnding));
}

// BDAT content is stored byte for byte: a bare LF is not normalized, and
// outside BINARYMIME it still fails the message.
BOOST_AUTO_TEST_CASE(chunks_are_never_normalized) {
  MessageReader reader(SpecLimits(), "mail.example.test", BodyType::k7Bit, BareNewline::kNormalize);
  std::string content;
  reader.ReadChunk("A: b\n\nbody\n", &content);
  BOOST_TEST(content == "");
  reader.Finish();
  BOOST_TEST((reader.verdict() == ContentVerdict::kBareLineEnding));
  MessageReader binary(SpecLimits(), "mail.example.test", BodyType::kBinaryMime,
                       BareNewline::kNormalize);
  content.clear();
  binary.ReadChunk("A: b\r\n\r\nbody\n", &content);
  binary.Finish();
  BOOST_TEST((binary.verdict() == ContentVerdict::kAccepted));
  BOOST_TEST(content == "A: b\r\n\r\nbody\n");
}

BOOST_AUTO_TEST_CASE(chunk_hop_count) {
  MessageReader reader(SpecLimits(), "mail.example.test", BodyType::k7Bit, BareNewline::kNormalize);
  std::string content;
  reader.ReadChunk(ReceivedFields(13, "MAIL.EXAMPLE.TEST"), &content);
  reader.ReadChunk("\r\n", &content);
  BOOST_TEST((reader.verdict() == ContentVerdict::kLocalHopCountExceeded));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
