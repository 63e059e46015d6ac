// WebSocket sessions: exec/attach over the channel protocols and port-forward (channel pairs).
#include "cri/streaming/channel_protocol.h"
#include "cri/streaming/session.h"

namespace crisp::streaming {

namespace {

using asio::redirect_error;
using asio::use_awaitable;
namespace websocket = beast::websocket;
using WebSocket = websocket::stream<beast::tcp_stream>;

std::shared_ptr<OutputQueue> make_queue(const std::shared_ptr<WebSocket>& ws, const SessionLimits& limits) {
  auto queue = std::make_shared<OutputQueue>(
      ws->get_executor(),
      [ws](const std::string& message) -> asio::awaitable<void> {
        co_await ws->async_write(asio::buffer(message), use_awaitable);
      },
      limits.output_buffer_limit, limits.write_timeout, [ws] { beast::get_lowest_layer(*ws).close(); });
  queue->start();
  return queue;
}

void configure(WebSocket& ws, bool base64, const SessionLimits& limits) {
  ws.binary(!base64);
  ws.read_message_max(limits.max_frame_length);
  ws.auto_fragment(false);
}

struct ReaderState {
  bool done = false;
  bool client_gone = false;
};

// Sends a normal close once everything queued was written, then waits (bounded) for the reader to
// see the client's close.
asio::awaitable<void> close_gracefully(std::shared_ptr<WebSocket> ws, std::shared_ptr<OutputQueue> queue,
                                       std::shared_ptr<ReaderState> reader) {
  co_await queue->flush();
  boost::system::error_code ec;
  queue->fail();
  co_await ws->async_close(websocket::close_code::normal, redirect_error(use_awaitable, ec));
  asio::steady_timer timer(ws->get_executor());
  for (int i = 0; i < 50 && !reader->done; ++i) {
    timer.expires_after(std::chrono::milliseconds(100));
    co_await timer.async_wait(redirect_error(use_awaitable, ec));
  }
  beast::get_lowest_layer(*ws).close();
}

}  // namespace

asio::awaitable<void> serve_websocket_command(WebSocket ws_in, int version, bool base64, CommandRequest request,
                                              StreamBackend& backend, const SessionLimits& limits) {
  auto ws = std::make_shared<WebSocket>(std::move(ws_in));
  configure(*ws, base64, limits);
  auto queue = make_queue(ws, limits);
  auto runner = std::make_shared<CommandRunner>(
      ws->get_executor(), backend, request, queue,
      [queue, base64](uint8_t channel, std::string data) {
        queue->push(encode_channel_message(channel, data, base64));
      });
  bool started = runner->start();
  // An empty message on the lowest writable channel tells the client the streams are ready.
  uint8_t first = request.stdout() ? kStdoutChannel : request.stderr() ? kStderrChannel : kErrorChannel;
  queue->push(encode_channel_message(first, "", base64));

  auto reader = std::make_shared<ReaderState>();
  if (started) {
    asio::co_spawn(
        ws->get_executor(),
        [ws, runner, reader, base64, version]() -> asio::awaitable<void> {
          std::string resize_buffer;
          beast::flat_buffer buffer;
          for (;;) {
            boost::system::error_code ec;
            co_await ws->async_read(buffer, redirect_error(use_awaitable, ec));
            if (ec) break;
            std::string message = beast::buffers_to_string(buffer.data());
            buffer.consume(buffer.size());
            auto decoded = decode_channel_message(message, base64);
            if (!decoded) continue;
            if (decoded->channel == kStdinChannel) {
              co_await runner->write_stdin(std::move(decoded->data));
            } else if (decoded->channel == kResizeChannel) {
              resize_buffer += decoded->data;
              for (auto size : take_resize_events(resize_buffer)) runner->resize(size);
            } else if (version >= 5 && !base64 && static_cast<uint8_t>(message[0]) == kCloseChannel) {
              if (message.size() >= 2 && static_cast<uint8_t>(message[1]) == kStdinChannel) runner->close_stdin();
            }
          }
          reader->done = true;
          runner->kill();  // a client that left ends its exec (no-op once it exited)
        },
        asio::detached);
  }
  CommandResult result = co_await runner->run();
  std::string status = version >= 4 ? status_json(result, request.cmd()) : status_text(result, request.cmd());
  if (!status.empty()) queue->push(encode_channel_message(kErrorChannel, status, base64));
  if (!started) reader->done = true;
  co_await close_gracefully(ws, queue, reader);
}

asio::awaitable<void> serve_websocket_port_forward(WebSocket ws_in, bool base64, std::vector<uint16_t> ports,
                                                   PortForwardSpec spec, StreamBackend& backend,
                                                   const SessionLimits& limits) {
  auto ws = std::make_shared<WebSocket>(std::move(ws_in));
  configure(*ws, base64, limits);
  auto queue = make_queue(ws, limits);
  auto executor = ws->get_executor();
  std::vector<std::shared_ptr<tcp::socket>> targets(ports.size());
  auto open_pumps = std::make_shared<int>(0);
  auto all_done = std::make_shared<asio::steady_timer>(executor);
  all_done->expires_at(asio::steady_timer::time_point::max());

  for (size_t i = 0; i < ports.size(); ++i) {
    uint8_t data_channel = static_cast<uint8_t>(2 * i), error_channel = static_cast<uint8_t>(2 * i + 1);
    std::string port_bytes{static_cast<char>(ports[i] & 0xff), static_cast<char>(ports[i] >> 8)};
    queue->push(encode_channel_message(data_channel, port_bytes, base64));
    queue->push(encode_channel_message(error_channel, port_bytes, base64));
    try {
      UniqueFd fd = backend.port_forward_connect(spec.sandbox_id, ports[i]);
      targets[i] = std::make_shared<tcp::socket>(executor);
      targets[i]->assign(tcp::v4(), fd.release());
    } catch (const std::exception& e) {
      queue->push(encode_channel_message(
          error_channel,
          "error forwarding port " + std::to_string(ports[i]) + " to pod " + spec.sandbox_id + ": " + e.what(),
          base64));
      continue;
    }
    ++*open_pumps;
    asio::co_spawn(
        executor,
        [queue, target = targets[i], data_channel, base64, open_pumps, all_done]() -> asio::awaitable<void> {
          std::string buf(32 * 1024, '\0');
          for (;;) {
            co_await queue->wait_for_room();
            if (queue->failed()) break;
            boost::system::error_code ec;
            size_t n = co_await target->async_read_some(asio::buffer(buf), redirect_error(use_awaitable, ec));
            if (ec || n == 0) break;
            queue->push(encode_channel_message(data_channel, std::string_view(buf.data(), n), base64));
          }
          if (--*open_pumps == 0) all_done->cancel();
        },
        asio::detached);
  }
  auto reader = std::make_shared<ReaderState>();
  asio::co_spawn(
      executor,
      [ws, targets, reader, base64, all_done]() -> asio::awaitable<void> {
        beast::flat_buffer buffer;
        for (;;) {
          boost::system::error_code ec;
          co_await ws->async_read(buffer, redirect_error(use_awaitable, ec));
          if (ec) break;
          std::string message = beast::buffers_to_string(buffer.data());
          buffer.consume(buffer.size());
          auto decoded = decode_channel_message(message, base64);
          if (!decoded || decoded->channel % 2 != 0) continue;
          size_t index = decoded->channel / 2;
          if (index >= targets.size() || !targets[index] || decoded->data.empty()) continue;
          co_await asio::async_write(*targets[index], asio::buffer(decoded->data), redirect_error(use_awaitable, ec));
        }
        reader->done = true;
        reader->client_gone = true;
        all_done->cancel();
      },
      asio::detached);
  // Until every target closed or the client left.
  while (*open_pumps > 0 && !reader->done) {
    boost::system::error_code ec;
    co_await all_done->async_wait(redirect_error(use_awaitable, ec));
  }
  for (auto& target : targets) {
    boost::system::error_code ec;
    if (target) target->close(ec);
  }
  if (reader->client_gone) {
    queue->fail();
    beast::get_lowest_layer(*ws).close();
    co_return;
  }
  co_await close_gracefully(ws, queue, reader);
}

}  // namespace crisp::streaming
