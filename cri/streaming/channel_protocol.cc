#include "cri/streaming/channel_protocol.h"

#include <boost/beast/core/detail/base64.hpp>
#include <nlohmann/json.hpp>

#include "cri/streaming/backend.h"

namespace crisp::streaming {

namespace base64 = boost::beast::detail::base64;

std::vector<std::string> split_header_list(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& value : values) {
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      if (comma == std::string::npos) comma = value.size();
      std::string item = value.substr(start, comma - start);
      size_t b = item.find_first_not_of(" \t");
      size_t e = item.find_last_not_of(" \t");
      if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
      start = comma + 1;
    }
  }
  return out;
}

std::optional<ChannelProtocol> select_channel_protocol(const std::vector<std::string>& offered,
                                                       bool port_forward) {
  if (offered.empty()) return ChannelProtocol{"", 1, false};
  for (const auto& name : offered) {
    if (!port_forward && name == "v5.channel.k8s.io") return ChannelProtocol{name, 5, false};
    if (name == "v4.channel.k8s.io") return ChannelProtocol{name, 4, false};
    if (name == "v4.base64.channel.k8s.io") return ChannelProtocol{name, 4, true};
    if (name == "channel.k8s.io") return ChannelProtocol{name, 1, false};
    if (name == "base64.channel.k8s.io") return ChannelProtocol{name, 1, true};
  }
  return std::nullopt;
}

std::string encode_channel_message(uint8_t channel, std::string_view data, bool base64_codec) {
  std::string out;
  if (!base64_codec) {
    out.reserve(data.size() + 1);
    out.push_back(static_cast<char>(channel));
    out += data;
    return out;
  }
  out.push_back(static_cast<char>('0' + channel));
  size_t at = out.size();
  out.resize(at + base64::encoded_size(data.size()));
  size_t n = base64::encode(out.data() + at, data.data(), data.size());
  out.resize(at + n);
  return out;
}

std::optional<ChannelMessage> decode_channel_message(std::string_view message, bool base64_codec) {
  if (message.empty()) return std::nullopt;
  ChannelMessage out;
  out.channel = static_cast<uint8_t>(message[0]);
  message.remove_prefix(1);
  if (!base64_codec) {
    out.data.assign(message);
    return out;
  }
  out.channel = static_cast<uint8_t>(out.channel - '0');
  out.data.resize(base64::decoded_size(message.size()));
  auto [written, read] = base64::decode(out.data.data(), message.data(), message.size());
  size_t significant = message.size();
  while (significant > 0 && message[significant - 1] == '=') --significant;
  if (read < significant) return std::nullopt;  // stopped at an invalid character
  out.data.resize(written);
  return out;
}

std::vector<TerminalSize> take_resize_events(std::string& buffer) {
  std::vector<TerminalSize> events;
  for (;;) {
    size_t end = buffer.find('}');
    if (end == std::string::npos) {
      if (buffer.size() > 4096) buffer.clear();  // no object is that long
      break;
    }
    std::string object = buffer.substr(0, end + 1);
    buffer.erase(0, end + 1);
    auto json = nlohmann::json::parse(object, nullptr, false);
    if (json.is_discarded() || !json.is_object()) continue;
    auto width_it = json.find("Width");
    auto height_it = json.find("Height");
    if (width_it == json.end() || height_it == json.end() || !width_it->is_number_integer() ||
        !height_it->is_number_integer()) {
      continue;
    }
    auto width = width_it->get<int64_t>();
    auto height = height_it->get<int64_t>();
    if (width <= 0 || height <= 0 || width > 0xffff || height > 0xffff) continue;
    events.push_back(TerminalSize{static_cast<uint16_t>(width), static_cast<uint16_t>(height)});
  }
  return events;
}

}  // namespace crisp::streaming
