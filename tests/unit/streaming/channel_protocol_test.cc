#include "cri/streaming/channel_protocol.h"

#include <gtest/gtest.h>

#include "cri/streaming/backend.h"

namespace crisp::streaming {
namespace {

TEST(ChannelProtocol, SelectsTheClientsFirstSupportedProtocol) {
  auto p = select_channel_protocol(split_header_list({"v5.channel.k8s.io, v4.channel.k8s.io", "channel.k8s.io"}),
                                   false);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "v5.channel.k8s.io");
  EXPECT_EQ(p->version, 5);
  EXPECT_FALSE(p->base64);

  p = select_channel_protocol({"v5.channel.k8s.io", "v4.channel.k8s.io"}, true);  // no v5 port-forward
  ASSERT_TRUE(p);
  EXPECT_EQ(p->version, 4);

  p = select_channel_protocol({"base64.channel.k8s.io"}, false);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->base64);
  EXPECT_EQ(p->version, 1);

  EXPECT_FALSE(select_channel_protocol({"chat"}, false));
  p = select_channel_protocol({}, false);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "");
}

TEST(ChannelProtocol, BinaryFraming) {
  std::string msg = encode_channel_message(kStdoutChannel, "abc", false);
  EXPECT_EQ(msg, std::string("\x01" "abc"));
  auto back = decode_channel_message(msg, false);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->channel, kStdoutChannel);
  EXPECT_EQ(back->data, "abc");
  EXPECT_FALSE(decode_channel_message("", false));
  auto close = decode_channel_message(std::string("\xff\x00", 2), false);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->channel, kCloseChannel);
  EXPECT_EQ(close->data, std::string(1, '\0'));
}

TEST(ChannelProtocol, Base64Framing) {
  std::string msg = encode_channel_message(kStderrChannel, "hello", true);
  EXPECT_EQ(msg, "2aGVsbG8=");
  auto back = decode_channel_message(msg, true);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->channel, kStderrChannel);
  EXPECT_EQ(back->data, "hello");
  EXPECT_FALSE(decode_channel_message("0!!!", true));
}

TEST(ChannelProtocol, ResizeEventsFromAStream) {
  std::string buffer = R"({"Width":80,"Height":24}{"Width":1)";
  auto events = take_resize_events(buffer);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].width, 80);
  EXPECT_EQ(events[0].height, 24);
  buffer += R"(00,"Height":50}{"bad":true}{"Width":"x","Height":2})";
  events = take_resize_events(buffer);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].width, 100);
  EXPECT_EQ(events[0].height, 50);
  EXPECT_TRUE(buffer.empty());
}

}  // namespace
}  // namespace crisp::streaming
