#pragma once
// Internals of the streaming server shared by server.cc, command_runner.cc, spdy_session.cc and
// websocket_session.cc. Everything here runs on one connection's io_context (one thread), so no
// locks are needed; the only other thread is CommandRunner's exit waiter.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "cri/streaming/backend.h"
#include "cri/streaming/status_json.h"

namespace crisp::streaming {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using HttpRequest = beast::http::request<beast::http::string_body>;

struct SessionLimits {
  std::chrono::milliseconds stream_creation_timeout;
  size_t max_frame_length;
  size_t output_buffer_limit;
  std::chrono::milliseconds write_timeout;
};

// What an exec or attach session runs.
struct CommandRequest {
  bool exec = true;
  ExecSpec exec_spec;
  AttachSpec attach_spec;
  bool tty() const { return exec ? exec_spec.tty : attach_spec.tty; }
  bool stdin() const { return exec ? exec_spec.stdin : attach_spec.stdin; }
  bool stdout() const { return exec ? exec_spec.stdout : attach_spec.stdout; }
  bool stderr() const { return exec ? exec_spec.stderr && !tty() : attach_spec.stderr && !tty(); }
  const std::vector<std::string>& cmd() const { return exec_spec.cmd; }
  TerminalSize initial_size() const { return exec ? exec_spec.initial_size : attach_spec.initial_size; }
  void set_initial_size(TerminalSize size) { (exec ? exec_spec.initial_size : attach_spec.initial_size) = size; }
};

// Outgoing messages of one connection, written one at a time in order by a writer coroutine.
// Producers push without blocking and await room before producing more (back-pressure instead
// of unbounded memory). A failed write fails the queue: later pushes are dropped. A write that
// takes longer than write_timeout (a client that stopped reading) calls on_stall, which closes
// the connection: a slow reader loses its session, the process behind it is never blocked for
// long.
class OutputQueue : public std::enable_shared_from_this<OutputQueue> {
 public:
  using Writer = std::function<asio::awaitable<void>(const std::string& message)>;
  OutputQueue(asio::any_io_executor executor, Writer writer, size_t limit,
              std::chrono::milliseconds write_timeout, std::function<void()> on_stall);
  void start();  // spawns the writer coroutine
  void push(std::string message);
  asio::awaitable<void> wait_for_room();
  asio::awaitable<void> flush();  // until everything pushed so far was written (or failed)
  void fail();
  bool failed() const { return failed_; }

 private:
  asio::awaitable<void> run();
  asio::awaitable<void> wait(asio::steady_timer& timer);

  Writer writer_;
  size_t limit_;
  std::chrono::milliseconds write_timeout_;
  std::function<void()> on_stall_;
  asio::steady_timer stall_timer_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool failed_ = false;
  asio::steady_timer wake_writer_;
  asio::steady_timer wake_producers_;
};

// Runs one exec/attach through the backend: pumps stdout/stderr to `emit` (with back-pressure from
// the output queue), writes stdin, applies resizes and learns the exit code. The process is killed
// (attach: detached) when the runner is destroyed before it ended.
class CommandRunner : public std::enable_shared_from_this<CommandRunner> {
 public:
  using Emit = std::function<void(uint8_t channel, std::string data)>;
  CommandRunner(asio::any_io_executor executor, StreamBackend& backend, CommandRequest request,
                std::shared_ptr<OutputQueue> queue, Emit emit);
  ~CommandRunner();
  CommandRunner(const CommandRunner&) = delete;
  CommandRunner& operator=(const CommandRunner&) = delete;

  // Starts the process; false (with result().error set) when the backend refused.
  bool start();
  // Until the output ended and the exit code is known.
  asio::awaitable<CommandResult> run();
  asio::awaitable<void> write_stdin(std::string data);
  void close_stdin();
  void resize(TerminalSize size);
  void kill();
  const CommandRequest& request() const { return request_; }

 private:
  asio::awaitable<void> pump(asio::posix::stream_descriptor& fd, uint8_t channel);
  asio::awaitable<void> wait_exit();
  void changed();

  asio::any_io_executor executor_;
  StreamBackend& backend_;
  CommandRequest request_;
  std::shared_ptr<OutputQueue> queue_;
  Emit emit_;
  std::unique_ptr<ProcessStreams> process_;
  asio::posix::stream_descriptor stdin_, stdout_, stderr_, exit_pipe_;
  std::thread waiter_;
  std::atomic<int> exit_code_{-1};  // written by the waiter thread before it writes to the exit pipe
  int pending_ = 0;     // pumps and the exit wait still running
  CommandResult result_;
  asio::steady_timer done_;
};

// Connection handlers, one per protocol family. `socket` carries an upgraded connection;
// `leftover` holds bytes already read past the HTTP request.
asio::awaitable<void> serve_spdy_command(tcp::socket socket, std::string leftover, std::string protocol,
                                         CommandRequest request, StreamBackend& backend,
                                         const SessionLimits& limits);
asio::awaitable<void> serve_spdy_port_forward(tcp::socket socket, std::string leftover, PortForwardSpec spec,
                                              StreamBackend& backend, const SessionLimits& limits);
asio::awaitable<void> serve_websocket_command(beast::websocket::stream<beast::tcp_stream> ws, int version,
                                              bool base64, CommandRequest request, StreamBackend& backend,
                                              const SessionLimits& limits);
asio::awaitable<void> serve_websocket_port_forward(beast::websocket::stream<beast::tcp_stream> ws, bool base64,
                                                   std::vector<uint16_t> ports, PortForwardSpec spec,
                                                   StreamBackend& backend, const SessionLimits& limits);

}  // namespace crisp::streaming
