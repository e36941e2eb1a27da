// tests/lib/ipc/frame_test.cc — IPC framing and fd passing.
#define BOOST_TEST_DYN_LINK
#include "lib/ipc/frame.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <vector>

#include "lib/ipc/messages_control.h"

using namespace postern;
using namespace postern::ipc;

namespace {

// The header bytes written out by hand: length, version, type.
std::string Header(uint32_t length, uint16_t version, uint16_t type) {
  std::string h;
  h.push_back(static_cast<char>(length >> 24));
  h.push_back(static_cast<char>(length >> 16));
  h.push_back(static_cast<char>(length >> 8));
  h.push_back(static_cast<char>(length));
  h.push_back(static_cast<char>(version >> 8));
  h.push_back(static_cast<char>(version));
  h.push_back(static_cast<char>(type >> 8));
  h.push_back(static_cast<char>(type));
  return h;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ipc_framing)

BOOST_AUTO_TEST_CASE(encodes_header_big_endian) {
  BOOST_TEST(EncodeFrame(MsgType::kPing, "abc") == Header(3, 4, 40) + "abc");
  BOOST_TEST(EncodeFrameHeader(MsgType::kPing, 3) == Header(3, 4, 40));
  BOOST_TEST(EncodeFrameHeader(MsgType::kPong, 70000) == Header(70000, 4, 41));
}

BOOST_AUTO_TEST_CASE(decoder_reassembles_frames_split_anywhere) {
  std::string stream = EncodeFrame(MsgType::kMessageData, "hello") +
                       EncodeFrame(MsgType::kMessageEnd, "") +
                       EncodeFrame(MsgType::kPong, std::string(1000, 'x'));
  for (size_t split = 0; split <= stream.size(); ++split) {
    FrameDecoder decoder;
    std::vector<Frame> frames;
    for (std::string_view part :
         {std::string_view(stream).substr(0, split), std::string_view(stream).substr(split)}) {
      decoder.Feed(part);
      for (;;) {
        auto next = decoder.Next();
        BOOST_REQUIRE(next.ok());
        if (!next->has_value()) break;
        frames.push_back(**next);
      }
    }
    BOOST_REQUIRE_EQUAL(frames.size(), 3u);
    BOOST_TEST(frames[0].payload == "hello");
    BOOST_TEST((frames[1].type == MsgType::kMessageEnd));
    BOOST_TEST(frames[2].payload.size() == 1000u);
  }
}

BOOST_AUTO_TEST_CASE(truncated_frame_waits_for_more) {
  FrameDecoder decoder;
  decoder.Feed(Header(10, 4, 21) + "12345");
  auto next = decoder.Next();
  BOOST_REQUIRE(next.ok());
  BOOST_TEST(!next->has_value());
  BOOST_TEST(decoder.buffered() == 13u);
}

BOOST_AUTO_TEST_CASE(oversized_frame_is_an_error) {
  FrameDecoder decoder;
  decoder.Feed(Header((1 << 20) + 1, 4, 21));
  auto next = decoder.Next();
  BOOST_REQUIRE(!next.ok());
  BOOST_TEST(next.status().message().find("more than the limit") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(other_version_is_an_error) {
  FrameDecoder decoder;
  decoder.Feed(Header(0, 1, 40));
  auto next = decoder.Next();
  BOOST_REQUIRE(!next.ok());
  BOOST_TEST(next.status().message().find("version 1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_type_has_a_name) {
  BOOST_TEST(MsgTypeName(MsgType::kMailCheck) == "kMailCheck");
  BOOST_TEST(MsgTypeName(static_cast<MsgType>(999)) == "unknown message type 999");
}

BOOST_AUTO_TEST_CASE(decode_as_refuses_another_type) {
  Result<ControlReply> reply = DecodeAs<ControlReply>(Frame{MsgType::kPong, ""});
  BOOST_REQUIRE(!reply.ok());
  BOOST_TEST(reply.status().message() == "kPong where kControlReply was expected");
}

BOOST_AUTO_TEST_CASE(datagram_length_must_match) {
  BOOST_TEST(!DecodeDatagram("short").ok());
  BOOST_TEST(!DecodeDatagram(Header(4, 4, 40) + "abc").ok());
  BOOST_TEST(!DecodeDatagram(Header(2, 4, 40) + "abc").ok());
  auto frame = DecodeDatagram(Header(3, 4, 40) + "abc");
  BOOST_REQUIRE(frame.ok());
  BOOST_TEST(frame->payload == "abc");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ipc_sockets)

BOOST_AUTO_TEST_CASE(passes_a_descriptor_over_seqpacket) {
  int pair[2];
  BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) == 0);
  int pipe_fds[2];
  BOOST_REQUIRE(pipe(pipe_fds) == 0);
  BOOST_REQUIRE(SendFrame(pair[0], MsgType::kHandoff, "conn", pipe_fds[1]).ok());
  DatagramBuffer buffer;
  auto datagram = ReceiveDatagram(pair[1], &buffer);
  BOOST_REQUIRE(datagram.ok());
  BOOST_TEST(datagram->frame.payload == "conn");
  BOOST_TEST(!datagram->descriptor_lost);
  int received = datagram->fd;
  BOOST_REQUIRE(received >= 0);
  // The received descriptor is the pipe's write end.
  BOOST_REQUIRE(write(received, "x", 1) == 1);
  char c = 0;
  BOOST_REQUIRE(read(pipe_fds[0], &c, 1) == 1);
  BOOST_TEST(c == 'x');
  for (int fd : {pair[0], pair[1], pipe_fds[0], pipe_fds[1], received}) close(fd);
}

BOOST_AUTO_TEST_CASE(eof_and_would_block_are_reported) {
  int pair[2];
  BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, pair) == 0);
  DatagramBuffer buffer;
  auto empty = ReceiveDatagram(pair[1], &buffer);
  BOOST_TEST(empty.status().is_would_block());
  BOOST_TEST(!empty.status().is_end_of_file());
  close(pair[0]);
  auto eof = ReceiveDatagram(pair[1], &buffer);
  BOOST_TEST(eof.status().is_end_of_file());
  BOOST_TEST(!eof.status().is_would_block());
  close(pair[1]);
}

// A receiver with no descriptor left gets the frame without it and knows a
// descriptor was lost (the sender still holds its copy), instead of an error
// that would end the channel.
BOOST_AUTO_TEST_CASE(a_descriptor_the_receiver_cannot_take_is_reported_lost) {
  int pair[2];
  BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) == 0);
  int pipe_fds[2];
  BOOST_REQUIRE(pipe(pipe_fds) == 0);
  BOOST_REQUIRE(SendFrame(pair[0], MsgType::kHandoff, "conn", pipe_fds[1]).ok());
  pid_t child = fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    // No descriptor above the ones open now can be allocated.
    rlimit none{static_cast<rlim_t>(pair[1]) + 1, static_cast<rlim_t>(pair[1]) + 1};
    for (int fd = pair[1] + 1; fd < 1024; ++fd) close(fd);
    if (setrlimit(RLIMIT_NOFILE, &none) != 0) _exit(3);
    DatagramBuffer buffer;
    auto datagram = ReceiveDatagram(pair[1], &buffer);
    if (!datagram.ok()) _exit(4);
    if (datagram->frame.payload != "conn") _exit(5);
    _exit(datagram->descriptor_lost && datagram->fd < 0 ? 0 : 6);
  }
  int status = 0;
  BOOST_REQUIRE(waitpid(child, &status, 0) == child);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  for (int fd : {pair[0], pair[1], pipe_fds[0], pipe_fds[1]}) close(fd);
}

// Memory pages of [start, start + length) that are backed by memory now.
size_t ResidentPages(const char* start, size_t length) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((length + page - 1) / page);
  if (mincore(const_cast<char*>(start), length, resident.data()) != 0) return SIZE_MAX;
  size_t n = 0;
  for (unsigned char r : resident) n += r & 1;
  return n;
}

// Every smtpd worker has a channel to master, and master one to each: the
// room for a megabyte frame must not cost a megabyte while frames are small,
// and a larger frame after a small one still arrives whole.
BOOST_AUTO_TEST_CASE(the_receive_buffer_holds_memory_only_for_what_was_received) {
  int pair[2];
  BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) == 0);
  DatagramBuffer buffer;
  BOOST_REQUIRE(SendFrame(pair[0], MsgType::kControlReply, "small").ok());
  auto small = ReceiveDatagram(pair[1], &buffer);
  BOOST_REQUIRE(small.ok());
  BOOST_TEST(small->frame.payload == "small");
  Result<char*> room = buffer.Room();
  BOOST_REQUIRE(room.ok());
  BOOST_TEST(ResidentPages(*room, DatagramBuffer::kSize) <= 2u);

  // 64 KB: within the default socket buffer, which root alone may pass.
  std::string larger(64 * 1024, 'x');
  BOOST_REQUIRE(SendFrame(pair[0], MsgType::kControlReply, larger).ok());
  auto large = ReceiveDatagram(pair[1], &buffer);
  BOOST_REQUIRE(large.ok());
  BOOST_TEST((large->frame.payload == larger));
  close(pair[0]);
  close(pair[1]);
}

BOOST_AUTO_TEST_CASE(stream_frame_round_trip) {
  int pair[2];
  BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  BOOST_REQUIRE(SendFrame(pair[0], MsgType::kControlReply, "status text").ok());
  auto frame = ReceiveStreamFrame(pair[1]);
  BOOST_REQUIRE(frame.ok());
  BOOST_TEST((frame->type == MsgType::kControlReply));
  BOOST_TEST(frame->payload == "status text");
  close(pair[0]);
  BOOST_TEST(ReceiveStreamFrame(pair[1]).status().is_end_of_file());
  close(pair[1]);
}

BOOST_AUTO_TEST_SUITE_END()
