#include "cri/streaming/spdy_frame.h"

#include <gtest/gtest.h>
#include <zlib.h>

namespace crisp::streaming::spdy {
namespace {

TEST(SpdyDictionary, HasTheSpecifiedSizeAndEnds) {
  const std::string& d = header_dictionary();
  EXPECT_EQ(d.size(), 1423u);
  EXPECT_EQ(d.substr(0, 11), std::string("\0\0\0\x07options", 11));
  EXPECT_EQ(d.substr(d.size() - 7), ",enq=0.");
}

TEST(SpdyFrame, DataFrameRoundTrip) {
  std::string wire = encode_data(5, "hello", kFlagFin);
  ASSERT_EQ(wire.size(), kFrameHeaderSize + 5);
  FrameDecoder decoder;
  decoder.feed(wire.data(), 3);  // partial header
  EXPECT_FALSE(decoder.next());
  decoder.feed(wire.data() + 3, wire.size() - 3);
  auto frame = decoder.next();
  ASSERT_TRUE(frame);
  EXPECT_FALSE(frame->control);
  EXPECT_EQ(frame->stream_id, 5u);
  EXPECT_EQ(frame->flags, kFlagFin);
  EXPECT_EQ(frame->payload, "hello");
  EXPECT_FALSE(decoder.next());
}

TEST(SpdyFrame, SynStreamRoundTripKeepsHeaderContextAcrossFrames) {
  HeaderCompressor compressor;
  HeaderDecompressor decompressor;
  FrameDecoder decoder;
  for (uint32_t id : {1u, 3u, 5u}) {
    SynStream syn;
    syn.stream_id = id;
    syn.priority = 3;
    syn.headers = {{"streamType", "stdout"}, {"X-Id", std::to_string(id)}};
    std::string wire = encode_syn_stream(syn, compressor);
    decoder.feed(wire.data(), wire.size());
    auto frame = decoder.next();
    ASSERT_TRUE(frame);
    ASSERT_TRUE(frame->is(ControlType::kSynStream));
    SynStream back = decode_syn_stream(*frame, decompressor);
    EXPECT_EQ(back.stream_id, id);
    EXPECT_EQ(back.priority, 3);
    ASSERT_EQ(back.headers.size(), 2u);
    EXPECT_EQ(back.headers[0].first, "streamtype");  // lower-case on the wire
    EXPECT_EQ(header_value(back.headers, "streamType"), "stdout");
    EXPECT_EQ(header_value(back.headers, "x-id"), std::to_string(id));
  }
}

// A SYN_STREAM built by hand as moby/spdystream would send it: a raw header block deflated with
// plain zlib and the SPDY/3 dictionary.
TEST(SpdyFrame, DecodesAHandBuiltSynStream) {
  auto u32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
  };
  std::string block = u32(3) + u32(10) + "streamtype" + u32(5) + "error" + u32(4) + "port" + u32(4) + "8080" +
                      u32(9) + "requestid" + u32(1) + "0";
  z_stream z{};
  ASSERT_EQ(deflateInit(&z, Z_DEFAULT_COMPRESSION), Z_OK);
  const std::string& dict = header_dictionary();
  ASSERT_EQ(deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dict.data()), dict.size()), Z_OK);
  std::string compressed(1024, '\0');
  z.next_in = reinterpret_cast<Bytef*>(block.data());
  z.avail_in = block.size();
  z.next_out = reinterpret_cast<Bytef*>(compressed.data());
  z.avail_out = compressed.size();
  ASSERT_EQ(deflate(&z, Z_SYNC_FLUSH), Z_OK);
  compressed.resize(compressed.size() - z.avail_out);
  deflateEnd(&z);

  std::string payload = u32(1) + u32(0) + std::string("\x00\x00", 2) + compressed;
  std::string wire = std::string("\x80\x03\x00\x01", 4) + std::string(1, '\0') +
                     std::string{static_cast<char>(payload.size() >> 16), static_cast<char>(payload.size() >> 8),
                                 static_cast<char>(payload.size())} +
                     payload;
  FrameDecoder decoder;
  decoder.feed(wire.data(), wire.size());
  auto frame = decoder.next();
  ASSERT_TRUE(frame);
  HeaderDecompressor decompressor;
  SynStream syn = decode_syn_stream(*frame, decompressor);
  EXPECT_EQ(syn.stream_id, 1u);
  EXPECT_EQ(header_value(syn.headers, "streamType"), "error");
  EXPECT_EQ(header_value(syn.headers, "port"), "8080");
  EXPECT_EQ(header_value(syn.headers, "requestID"), "0");
}

TEST(SpdyFrame, ControlFramesRoundTrip) {
  FrameDecoder decoder;
  std::string wire = encode_rst_stream(7, kCancel) + encode_ping(9) + encode_goaway(11) + encode_window_update(3, 100);
  decoder.feed(wire.data(), wire.size());
  auto rst = decoder.next();
  ASSERT_TRUE(rst && rst->is(ControlType::kRstStream));
  EXPECT_EQ(decode_stream_id(*rst), 7u);
  EXPECT_EQ(decode_u32_at(*rst, 4), kCancel);
  auto ping = decoder.next();
  ASSERT_TRUE(ping && ping->is(ControlType::kPing));
  EXPECT_EQ(decode_u32_at(*ping, 0), 9u);
  auto goaway = decoder.next();
  ASSERT_TRUE(goaway && goaway->is(ControlType::kGoAway));
  EXPECT_EQ(decode_stream_id(*goaway), 11u);
  auto window = decoder.next();
  ASSERT_TRUE(window && window->is(ControlType::kWindowUpdate));
  EXPECT_EQ(decode_u32_at(*window, 4), 100u);
}

TEST(SpdyFrame, SynReplyRoundTrip) {
  HeaderCompressor compressor;
  HeaderDecompressor decompressor;
  std::string wire = encode_syn_reply(3, {{"a", "b"}}, kFlagFin, compressor);
  FrameDecoder decoder;
  decoder.feed(wire.data(), wire.size());
  auto frame = decoder.next();
  ASSERT_TRUE(frame && frame->is(ControlType::kSynReply));
  SynReply reply = decode_syn_reply(*frame, decompressor);
  EXPECT_EQ(reply.stream_id, 3u);
  EXPECT_EQ(reply.flags, kFlagFin);
  EXPECT_EQ(header_value(reply.headers, "A"), "b");
}

TEST(SpdyFrame, RefusesHugeFramesAndOtherVersions) {
  FrameDecoder decoder(1024);
  std::string huge("\x00\x00\x00\x01\x00\xff\xff\xff", 8);
  decoder.feed(huge.data(), huge.size());
  EXPECT_THROW(decoder.next(), ProtocolError);

  FrameDecoder v2;
  std::string old("\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", 12);
  v2.feed(old.data(), old.size());
  EXPECT_THROW(v2.next(), ProtocolError);
}

TEST(SpdyFrame, CorruptHeaderBlockThrows) {
  HeaderDecompressor decompressor;
  EXPECT_THROW(decompressor.decompress("not zlib at all"), ProtocolError);
}

}  // namespace
}  // namespace crisp::streaming::spdy
