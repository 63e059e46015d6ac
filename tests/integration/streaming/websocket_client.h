#pragma once
// A WebSocket client for tests (Boost.Beast, synchronous): writes first, then reads until close.
#include <utility>  // before asio: Boost 1.74 needs std::exchange

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <optional>
#include <string>
#include <vector>

#include "cri/streaming/channel_protocol.h"
#include "tests/integration/streaming/spdy_client.h"

namespace crisp::streaming::testing {

class WebSocketClient {
 public:
  // Handshake offering protocols; returns the one the server chose. Throws on a refused upgrade.
  std::string connect(const std::string& url, const std::vector<std::string>& protocols) {
    namespace websocket = boost::beast::websocket;
    HttpUrl u = parse_url(url);
    boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address(u.host), u.port);
    ws_.next_layer().connect(endpoint);
    std::string offered;
    for (const auto& p : protocols) offered += (offered.empty() ? "" : ", ") + p;
    ws_.set_option(websocket::stream_base::decorator([offered](websocket::request_type& req) {
      if (!offered.empty()) req.set(boost::beast::http::field::sec_websocket_protocol, offered);
    }));
    websocket::response_type res;
    ws_.handshake(res, u.host + ":" + std::to_string(u.port), u.target);
    ws_.binary(true);
    return std::string(res[boost::beast::http::field::sec_websocket_protocol]);
  }
  void send(uint8_t channel, const std::string& data, bool base64 = false) {
    ws_.binary(!base64);
    ws_.write(boost::asio::buffer(encode_channel_message(channel, data, base64)));
  }
  void send_raw(const std::string& bytes) {
    ws_.binary(true);
    ws_.write(boost::asio::buffer(bytes));
  }
  // The next message, or nullopt once the server closed.
  std::optional<std::string> read_one() {
    boost::beast::flat_buffer buffer;
    boost::system::error_code ec;
    ws_.read(buffer, ec);
    if (ec) return std::nullopt;
    return boost::beast::buffers_to_string(buffer.data());
  }
  std::vector<std::string> read_all() {
    std::vector<std::string> messages;
    while (auto m = read_one()) messages.push_back(*m);
    return messages;
  }
  void close() {
    boost::system::error_code ec;
    ws_.next_layer().close(ec);
  }

 private:
  boost::asio::io_context ioc_;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_{ioc_};
};

// Concatenated payloads per channel of a list of messages.
inline std::map<int, std::string> by_channel(const std::vector<std::string>& messages, bool base64 = false) {
  std::map<int, std::string> out;
  for (const auto& m : messages) {
    if (auto decoded = decode_channel_message(m, base64)) out[decoded->channel] += decoded->data;
  }
  return out;
}

}  // namespace crisp::streaming::testing
