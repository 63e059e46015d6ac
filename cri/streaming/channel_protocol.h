#pragma once
// The Kubernetes WebSocket channel protocols (k8s.io/apimachinery wsstream): every message starts
// with a channel byte (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize; port-forward: 2i data and
// 2i+1 error of the i-th port). The base64 variants send the channel as an ASCII digit followed by
// base64 text. v5 adds a client message {255, <channel>} that closes that channel (stdin EOF).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crisp::streaming {

enum Channel : uint8_t {
  kStdinChannel = 0,
  kStdoutChannel = 1,
  kStderrChannel = 2,
  kErrorChannel = 3,
  kResizeChannel = 4,
  kCloseChannel = 255,
};

struct ChannelProtocol {
  std::string name;     // as negotiated ("" when the client asked for none)
  int version = 1;      // 1 (channel.k8s.io), 4 or 5
  bool base64 = false;  // text messages, base64 payload
};

// Picks the first protocol of the client's Sec-WebSocket-Protocol list (comma-separated values
// of all headers, in order) that the server speaks; exec/attach accept v5, v4 and the unversioned
// protocols, port-forward v4 and the unversioned ones. nullopt: none of them.
std::optional<ChannelProtocol> select_channel_protocol(const std::vector<std::string>& offered,
                                                       bool port_forward);

std::string encode_channel_message(uint8_t channel, std::string_view data, bool base64);

struct ChannelMessage {
  uint8_t channel = 0;
  std::string data;
};
// nullopt for an empty message or invalid base64.
std::optional<ChannelMessage> decode_channel_message(std::string_view message, bool base64);

// Splits "a, b,c" header values into trimmed items.
std::vector<std::string> split_header_list(const std::vector<std::string>& values);

// Parses the JSON objects of a resize stream ({"Width":80,"Height":24}) out of buffer, removing
// the complete ones; malformed objects are skipped.
struct TerminalSize;
std::vector<TerminalSize> take_resize_events(std::string& buffer);

}  // namespace crisp::streaming
