// SPDY/3.1 sessions: exec/attach (remotecommand v1-v4) and port-forward (portforward.k8s.io).
#include <map>
#include <optional>

#include "cri/streaming/channel_protocol.h"
#include "cri/streaming/session.h"
#include "cri/streaming/spdy_frame.h"

namespace crisp::streaming {

namespace {

using asio::redirect_error;
using asio::use_awaitable;

// One upgraded SPDY connection: frame reading, the shared header contexts and the output queue.
class SpdyConnection : public std::enable_shared_from_this<SpdyConnection> {
 public:
  SpdyConnection(tcp::socket socket, std::string leftover, const SessionLimits& limits)
      : socket_(std::move(socket)), decoder_(limits.max_frame_length), limits_(limits) {
    decoder_.feed(leftover.data(), leftover.size());
  }

  void start() {
    // The queue must not own the connection (it is owned by it): weak references only.
    std::weak_ptr<SpdyConnection> weak = shared_from_this();
    out_ = std::make_shared<OutputQueue>(
        socket_.get_executor(),
        [weak](const std::string& message) -> asio::awaitable<void> {
          auto self = weak.lock();
          if (!self) throw std::runtime_error("connection gone");
          co_await asio::async_write(self->socket_, asio::buffer(message), use_awaitable);
        },
        limits_.output_buffer_limit, limits_.write_timeout, [weak] {
          if (auto self = weak.lock()) self->close();
        });
    out_->start();
  }

  // The next frame; nullopt when the peer closed, the socket failed or the framing is invalid
  // (the connection is then closed).
  asio::awaitable<std::optional<spdy::Frame>> read_frame() {
    timed_out_ = false;
    for (;;) {
      try {
        if (auto frame = decoder_.next()) co_return frame;
      } catch (const spdy::ProtocolError&) {
        close();
        co_return std::nullopt;
      }
      boost::system::error_code ec;
      size_t n = co_await socket_.async_read_some(asio::buffer(buf_), redirect_error(use_awaitable, ec));
      if (ec || n == 0) co_return std::nullopt;
      decoder_.feed(buf_, n);
    }
  }

  // read_frame() that gives up at `deadline`: nullopt with timed_out() true (the connection stays
  // usable; a cancelled read consumes nothing).
  asio::awaitable<std::optional<spdy::Frame>> read_frame_until(std::chrono::steady_clock::time_point deadline) {
    asio::steady_timer timer(socket_.get_executor(), deadline);
    bool fired = false;
    timer.async_wait([this, &fired](boost::system::error_code ec) {
      if (ec) return;
      fired = true;
      boost::system::error_code ignored;
      socket_.cancel(ignored);
    });
    auto frame = co_await read_frame();
    timer.cancel();
    // A timer handler already queued runs before this resumes, so `fired` is final (and alive).
    co_await asio::post(socket_.get_executor(), use_awaitable);
    if (!frame && fired) timed_out_ = true;
    co_return frame;
  }
  bool timed_out() const { return timed_out_; }

  // PING is echoed; SETTINGS, WINDOW_UPDATE and unknown frames are ignored (spdystream does no
  // flow control). True for GOAWAY.
  bool handle_common(const spdy::Frame& frame) {
    if (frame.is(spdy::ControlType::kPing)) {
      out_->push(spdy::encode_ping(spdy::decode_u32_at(frame, 0)));
    }
    return frame.is(spdy::ControlType::kGoAway);
  }

  std::optional<spdy::SynStream> decode_syn(const spdy::Frame& frame) {
    try {
      auto syn = spdy::decode_syn_stream(frame, inflater_);
      if (syn.stream_id > last_stream_id_) last_stream_id_ = syn.stream_id;
      return syn;
    } catch (const spdy::ProtocolError&) {
      close();
      return std::nullopt;
    }
  }

  void reply(uint32_t stream_id) { out_->push(spdy::encode_syn_reply(stream_id, {}, 0, deflater_)); }
  void data(uint32_t stream_id, std::string_view bytes) {
    if (stream_id != 0) out_->push(spdy::encode_data(stream_id, bytes));
  }
  void fin(uint32_t stream_id) {
    if (stream_id != 0) out_->push(spdy::encode_data(stream_id, {}, spdy::kFlagFin));
  }
  void reset(uint32_t stream_id, uint32_t status) { out_->push(spdy::encode_rst_stream(stream_id, status)); }

  // GOAWAY, then everything queued, then a half-close; the socket is closed once the client
  // closed its side (the reader saw EOF: reader_done) or after a grace period.
  asio::awaitable<void> close_gracefully(const bool& reader_done) {
    out_->push(spdy::encode_goaway(last_stream_id_));
    co_await out_->flush();
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    asio::steady_timer timer(socket_.get_executor());
    for (int i = 0; i < 50 && !reader_done; ++i) {
      timer.expires_after(std::chrono::milliseconds(100));
      co_await timer.async_wait(redirect_error(use_awaitable, ec));
    }
    close();
  }

  void close() {
    boost::system::error_code ec;
    out_->fail();
    socket_.close(ec);
  }

  asio::any_io_executor executor() { return socket_.get_executor(); }
  const std::shared_ptr<OutputQueue>& out() const { return out_; }

 private:
  tcp::socket socket_;
  spdy::FrameDecoder decoder_;
  spdy::HeaderDecompressor inflater_;
  spdy::HeaderCompressor deflater_;
  SessionLimits limits_;
  std::shared_ptr<OutputQueue> out_;
  char buf_[16 * 1024];
  uint32_t last_stream_id_ = 0;
  bool timed_out_ = false;
};

// Closes the connection unless cancelled before `timeout` (streams not opened in time).
void arm_deadline(const std::shared_ptr<SpdyConnection>& conn, asio::steady_timer& timer,
                  std::chrono::milliseconds timeout) {
  timer.expires_after(timeout);
  timer.async_wait([weak = std::weak_ptr<SpdyConnection>(conn)](boost::system::error_code ec) {
    if (ec) return;
    if (auto conn = weak.lock()) conn->close();
  });
}

constexpr std::chrono::milliseconds kInitialSizeWait{300};

int protocol_version(const std::string& protocol) {
  if (protocol == "v4.channel.k8s.io") return 4;
  if (protocol == "v3.channel.k8s.io") return 3;
  if (protocol == "v2.channel.k8s.io") return 2;
  return 1;
}

}  // namespace

asio::awaitable<void> serve_spdy_command(tcp::socket socket, std::string leftover, std::string protocol,
                                         CommandRequest request, StreamBackend& backend,
                                         const SessionLimits& limits) {
  auto conn = std::make_shared<SpdyConnection>(std::move(socket), std::move(leftover), limits);
  conn->start();
  const int version = protocol_version(protocol);
  const bool resize_stream = request.tty() && version >= 3;
  int expected = 1 + request.stdin() + request.stdout() + request.stderr() + resize_stream;

  // Phase 1: the client opens its streams (error first, then the others).
  std::map<std::string, uint32_t> streams;  // streamType -> stream id
  std::string early_stdin;
  bool stdin_fin = false;
  asio::steady_timer deadline(conn->executor());
  arm_deadline(conn, deadline, limits.stream_creation_timeout);
  while (static_cast<int>(streams.size()) < expected) {
    auto frame = co_await conn->read_frame();
    if (!frame) co_return conn->close();
    if (frame->is(spdy::ControlType::kSynStream)) {
      auto syn = conn->decode_syn(*frame);
      if (!syn) co_return;
      std::string type = spdy::header_value(syn->headers, "streamtype");
      conn->reply(syn->stream_id);
      bool wanted = type == "error" || (type == "stdin" && request.stdin()) ||
                    (type == "stdout" && request.stdout()) || (type == "stderr" && request.stderr()) ||
                    (type == "resize" && resize_stream);
      if (wanted && !streams.count(type)) streams[type] = syn->stream_id;
      if (type == "stdin" && (syn->flags & spdy::kFlagFin)) stdin_fin = true;
    } else if (!frame->control) {
      if (streams.count("stdin") && frame->stream_id == streams["stdin"]) {
        early_stdin += frame->payload;
        if (frame->flags & spdy::kFlagFin) stdin_fin = true;
      }
    } else if (conn->handle_common(*frame)) {
      co_return conn->close();
    }
  }
  deadline.cancel();
  auto id_of = [&](const char* type) { return streams.count(type) ? streams[type] : 0u; };
  const uint32_t stdin_id = id_of("stdin"), stdout_id = id_of("stdout"), stderr_id = id_of("stderr"),
                 error_id = id_of("error"), resize_id = id_of("resize");

  // A tty client sends its window size right after opening the streams: wait briefly for it so the
  // terminal is created with the right size (a command like `stty size` must never see 0x0).
  std::string resize_buffer;
  if (resize_id) {
    auto until = std::chrono::steady_clock::now() + kInitialSizeWait;
    while (!request.initial_size().width) {
      auto frame = co_await conn->read_frame_until(until);
      if (!frame) {
        if (conn->timed_out()) break;
        co_return conn->close();
      }
      if (!frame->control) {
        if (frame->stream_id == resize_id) {
          resize_buffer += frame->payload;
          auto sizes = take_resize_events(resize_buffer);
          if (!sizes.empty()) request.set_initial_size(sizes.back());
        } else if (frame->stream_id == stdin_id && stdin_id) {
          early_stdin += frame->payload;
          if (frame->flags & spdy::kFlagFin) stdin_fin = true;
        }
      } else if (conn->handle_common(*frame)) {
        co_return conn->close();
      }
    }
  }

  auto runner = std::make_shared<CommandRunner>(
      conn->executor(), backend, request, conn->out(),
      [conn, stdout_id, stderr_id](uint8_t channel, std::string data) {
        conn->data(channel == kStderrChannel ? stderr_id : stdout_id, data);
      });
  bool started = runner->start();
  if (version == 1) stdin_fin = true;  // as the kubelet's v1 handler: no input with the oldest protocol

  // Phase 2: input from the client, concurrently with the output pumps.
  struct ReaderState {
    bool done = false;
    bool client_gone = false;
  };
  auto reader = std::make_shared<ReaderState>();
  if (started) {
    co_await runner->write_stdin(std::move(early_stdin));
    if (stdin_fin) runner->close_stdin();
    asio::co_spawn(
        conn->executor(),
        [conn, runner, stdin_id, resize_id, reader, resize_buffer]() mutable -> asio::awaitable<void> {
          for (;;) {
            auto frame = co_await conn->read_frame();
            if (!frame) {
              reader->client_gone = true;
              break;
            }
            if (!frame->control) {
              if (frame->stream_id == stdin_id && stdin_id) {
                co_await runner->write_stdin(std::move(frame->payload));
                if (frame->flags & spdy::kFlagFin) runner->close_stdin();
              } else if (frame->stream_id == resize_id && resize_id) {
                resize_buffer += frame->payload;
                for (auto size : take_resize_events(resize_buffer)) runner->resize(size);
              }
            } else if (frame->is(spdy::ControlType::kRstStream)) {
              if (spdy::decode_stream_id(*frame) == stdin_id) runner->close_stdin();
            } else if (frame->is(spdy::ControlType::kSynStream)) {
              auto syn = conn->decode_syn(*frame);
              if (!syn) {
                reader->client_gone = true;
                break;
              }
              conn->reset(syn->stream_id, spdy::kRefusedStream);
            } else if (conn->handle_common(*frame)) {
              reader->client_gone = true;
              break;
            }
          }
          reader->done = true;
          if (reader->client_gone) runner->kill();  // a client that left ends its exec
        },
        asio::detached);
  }
  CommandResult result = co_await runner->run();
  if (reader->client_gone) co_return conn->close();
  conn->fin(stdout_id);
  conn->fin(stderr_id);
  std::string status = version >= 4 ? status_json(result, request.cmd()) : status_text(result, request.cmd());
  if (!status.empty()) conn->data(error_id, status);
  conn->fin(error_id);
  if (!started) reader->done = true;
  co_await conn->close_gracefully(reader->done);
}

asio::awaitable<void> serve_spdy_port_forward(tcp::socket socket, std::string leftover, PortForwardSpec spec,
                                              StreamBackend& backend, const SessionLimits& limits) {
  auto conn = std::make_shared<SpdyConnection>(std::move(socket), std::move(leftover), limits);
  conn->start();
  struct Pair {
    uint32_t data_id = 0;
    uint32_t error_id = 0;
    uint16_t port = 0;
    std::shared_ptr<tcp::socket> target;
    std::string pending;  // client data before the target was connected
    bool client_fin = false;
  };
  std::map<std::string, Pair> pairs;                 // requestID -> pair
  std::map<uint32_t, std::string> request_of_stream;  // data stream id -> requestID
  auto executor = conn->executor();

  auto start_pair = [&](Pair& pair) -> asio::awaitable<void> {
    UniqueFd fd;
    try {
      fd = backend.port_forward_connect(spec.sandbox_id, pair.port);
    } catch (const std::exception& e) {
      conn->data(pair.error_id, "error forwarding port " + std::to_string(pair.port) + " to pod " + spec.sandbox_id +
                                    ": " + e.what());
      conn->fin(pair.error_id);
      conn->fin(pair.data_id);
      co_return;
    }
    pair.target = std::make_shared<tcp::socket>(executor);
    boost::system::error_code ec;
    pair.target->assign(tcp::v4(), fd.release(), ec);
    if (!pair.pending.empty()) co_await asio::async_write(*pair.target, asio::buffer(pair.pending),
                                                          redirect_error(use_awaitable, ec));
    pair.pending.clear();
    if (pair.client_fin) pair.target->shutdown(tcp::socket::shutdown_send, ec);
    // target -> client
    asio::co_spawn(
        executor,
        [conn, target = pair.target, data_id = pair.data_id, error_id = pair.error_id]() -> asio::awaitable<void> {
          std::string buf(32 * 1024, '\0');
          for (;;) {
            co_await conn->out()->wait_for_room();
            if (conn->out()->failed()) break;
            boost::system::error_code ec;
            size_t n = co_await target->async_read_some(asio::buffer(buf), redirect_error(use_awaitable, ec));
            if (ec || n == 0) break;
            conn->data(data_id, std::string_view(buf.data(), n));
          }
          conn->fin(data_id);
          conn->fin(error_id);
        },
        asio::detached);
  };

  for (;;) {
    auto frame = co_await conn->read_frame();
    if (!frame) break;
    if (frame->is(spdy::ControlType::kSynStream)) {
      auto syn = conn->decode_syn(*frame);
      if (!syn) break;
      conn->reply(syn->stream_id);
      std::string type = spdy::header_value(syn->headers, "streamtype");
      std::string port_text = spdy::header_value(syn->headers, "port");
      std::string request_id = spdy::header_value(syn->headers, "requestid");
      if (request_id.empty()) {  // old clients: the data stream follows its error stream
        request_id = std::to_string(type == "data" ? syn->stream_id - 2 : syn->stream_id);
      }
      int port = 0;
      try {
        port = std::stoi(port_text);
      } catch (const std::exception&) {
      }
      if ((type != "data" && type != "error") || port <= 0 || port > 65535) {
        conn->reset(syn->stream_id, spdy::kProtocolError);
        continue;
      }
      Pair& pair = pairs[request_id];
      pair.port = static_cast<uint16_t>(port);
      if (type == "data") {
        pair.data_id = syn->stream_id;
        request_of_stream[syn->stream_id] = request_id;
      } else {
        pair.error_id = syn->stream_id;
      }
      if (pair.data_id && pair.error_id && !pair.target) co_await start_pair(pair);
    } else if (!frame->control) {
      auto it = request_of_stream.find(frame->stream_id);
      if (it == request_of_stream.end()) continue;
      Pair& pair = pairs[it->second];
      bool fin = frame->flags & spdy::kFlagFin;
      boost::system::error_code ec;
      if (!pair.target) {
        pair.pending += frame->payload;
        pair.client_fin = pair.client_fin || fin;
        continue;
      }
      if (!frame->payload.empty()) {
        co_await asio::async_write(*pair.target, asio::buffer(frame->payload), redirect_error(use_awaitable, ec));
      }
      if (fin) pair.target->shutdown(tcp::socket::shutdown_send, ec);
    } else if (frame->is(spdy::ControlType::kRstStream)) {
      auto it = request_of_stream.find(spdy::decode_stream_id(*frame));
      if (it != request_of_stream.end() && pairs[it->second].target) {
        boost::system::error_code ec;
        pairs[it->second].target->close(ec);
      }
    } else if (conn->handle_common(*frame)) {
      break;
    }
  }
  for (auto& [id, pair] : pairs) {
    boost::system::error_code ec;
    if (pair.target) pair.target->close(ec);
  }
  conn->close();
}

}  // namespace crisp::streaming
