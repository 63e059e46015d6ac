#include "cri/streaming/server.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <list>
#include <mutex>

#include "cri/streaming/channel_protocol.h"
#include "cri/streaming/session.h"
#include "cri/streaming/token_store.h"
#include "runtime/base/error.h"

namespace crisp::streaming {

namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::redirect_error;
using asio::use_awaitable;

namespace {

const char* const kSpdyCommandProtocols[] = {"v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
                                             "channel.k8s.io"};
const char* const kPortForwardProtocol = "portforward.k8s.io";

std::vector<std::string> header_values(const HttpRequest& req, const std::string& name) {
  std::vector<std::string> values;
  for (auto range = req.equal_range(beast::string_view(name.data(), name.size())); range.first != range.second; ++range.first) {
    values.emplace_back(range.first->value());
  }
  return split_header_list(values);
}

bool contains_token(const std::vector<std::string>& items, std::string_view token) {
  for (const auto& item : items) {
    if (beast::iequals(beast::string_view(item.data(), item.size()), beast::string_view(token.data(), token.size()))) {
      return true;
    }
  }
  return false;
}

asio::awaitable<void> respond(beast::tcp_stream& stream, http::status status, std::string body,
                              std::string header_name = std::string(), std::string header_value = std::string()) {
  http::response<http::string_body> res{status, 11};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  if (!header_name.empty()) res.set(header_name, header_value);
  res.keep_alive(false);
  res.body() = body + "\n";
  res.prepare_payload();
  boost::system::error_code ec;
  stream.expires_after(std::chrono::seconds(10));
  co_await http::async_write(stream, res, redirect_error(use_awaitable, ec));
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.close();
}

// "/exec/<token>?query" -> ("exec", "<token>", "query")
struct Target {
  std::string kind, token, query;
};
std::optional<Target> parse_target(std::string_view target) {
  Target t;
  size_t q = target.find('?');
  if (q != std::string_view::npos) {
    t.query = std::string(target.substr(q + 1));
    target = target.substr(0, q);
  }
  if (target.empty() || target[0] != '/') return std::nullopt;
  target.remove_prefix(1);
  size_t slash = target.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  t.kind = std::string(target.substr(0, slash));
  t.token = std::string(target.substr(slash + 1));
  if (t.token.empty() || t.token.find('/') != std::string::npos) return std::nullopt;
  return t;
}

// The values of every "ports=" parameter, comma-separated or repeated.
std::optional<std::vector<uint16_t>> query_ports(const std::string& query) {
  std::vector<uint16_t> ports;
  size_t start = 0;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string::npos) amp = query.size();
    std::string param = query.substr(start, amp - start);
    start = amp + 1;
    if (param.rfind("ports=", 0) != 0) continue;
    std::string list = param.substr(6);
    for (size_t at = 0; at <= list.size();) {
      size_t end = list.find_first_of(",", at);
      if (end == std::string::npos) end = list.size();
      std::string item = list.substr(at, end - at);
      if (item.rfind("%2C", 0) == 0 || item.rfind("%2c", 0) == 0) item = item.substr(3);
      at = end + 1;
      if (item.empty()) continue;
      try {
        size_t used = 0;
        int port = std::stoi(item, &used);
        if (used != item.size() || port <= 0 || port > 65535) return std::nullopt;
        ports.push_back(static_cast<uint16_t>(port));
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
  }
  return ports;
}

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, StreamBackend& backend)
      : options_(std::move(options)),
        backend_(backend),
        tokens_(options_.token_timeout),
        acceptor_(accept_ctx_),
        limits_{options_.stream_creation_timeout, options_.max_frame_length, options_.output_buffer_limit,
                options_.write_timeout} {}

  void start();
  void stop();
  std::string base_url() const { return base_url_; }
  std::string url(const char* kind, StreamRequest request) {
    return base_url_ + "/" + kind + "/" + tokens_.insert(std::move(request));
  }
  size_t active() const {
    std::lock_guard lock(mu_);
    return connections_.size();
  }

 private:
  struct Connection {
    asio::io_context* ctx = nullptr;  // while its thread runs it
  };
  asio::awaitable<void> accept_loop();
  void run_connection(std::shared_ptr<asio::io_context> ctx, tcp::socket socket,
                      std::list<Connection>::iterator entry);
  asio::awaitable<void> handle(tcp::socket socket);

  ServerOptions options_;
  StreamBackend& backend_;
  TokenStore tokens_;
  asio::io_context accept_ctx_;
  tcp::acceptor acceptor_;
  std::thread accept_thread_;
  std::string base_url_;
  SessionLimits limits_;

  mutable std::mutex mu_;  // guards connections_ and stopping_
  std::condition_variable connections_changed_;
  std::list<Connection> connections_;  // one per connection thread
  bool stopping_ = false;
  bool started_ = false;
};

void Server::Impl::start() {
  // Writing a client's stdin into a pipe whose reader exited must fail with EPIPE, not kill the
  // process (crispd ignores SIGPIPE already; this covers other embedders such as tests).
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
  const std::string& address = options_.address;
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) throw Error(ErrorKind::kInvalidArgument, "stream address " + address + ": no port");
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (const std::exception&) {
    port = -1;
  }
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec || port < 0 || port > 65535) {
    throw Error(ErrorKind::kInvalidArgument, "stream address " + address + ": expected HOST:PORT");
  }
  tcp::endpoint endpoint(ip, static_cast<uint16_t>(port));
  // Every fd of crispd is close-on-exec from birth: monitors are spawned concurrently.
  int fd = ::socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) throw_errno(ErrorKind::kUnavailable, errno, "streaming server socket");
  acceptor_.assign(endpoint.protocol(), fd, ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw Error(ErrorKind::kUnavailable, "streaming server cannot listen on " + address + ": " + ec.message());
  auto bound = acceptor_.local_endpoint();
  std::string shown = bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string();
  base_url_ = "http://" + shown + ":" + std::to_string(bound.port());
  asio::co_spawn(accept_ctx_, accept_loop(), asio::detached);
  accept_thread_ = std::thread([this] { accept_ctx_.run(); });
  started_ = true;
}

void Server::Impl::stop() {
  if (!started_) return;
  started_ = false;
  asio::post(accept_ctx_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
  accept_thread_.join();
  std::unique_lock lock(mu_);
  stopping_ = true;
  for (auto& conn : connections_) {
    if (conn.ctx) conn.ctx->stop();
  }
  connections_changed_.wait(lock, [&] { return connections_.empty(); });
}

asio::awaitable<void> Server::Impl::accept_loop() {
  for (;;) {
    boost::system::error_code ec;
    co_await acceptor_.async_wait(tcp::acceptor::wait_read, redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        asio::steady_timer backoff(accept_ctx_, std::chrono::milliseconds(100));  // out of fds: breathe
        co_await backoff.async_wait(redirect_error(use_awaitable, ec));
      }
      continue;
    }
    auto ctx = std::make_shared<asio::io_context>(1);
    tcp::socket socket(*ctx);
    socket.assign(acceptor_.local_endpoint().protocol(), fd, ec);
    if (ec) {
      ::close(fd);
      continue;
    }
    std::list<Connection>::iterator entry;
    {
      std::lock_guard lock(mu_);
      if (stopping_ || connections_.size() >= options_.max_connections) continue;  // socket closes
      entry = connections_.insert(connections_.end(), Connection{ctx.get()});
    }
    try {
      std::thread(&Impl::run_connection, this, ctx, std::move(socket), entry).detach();
    } catch (const std::system_error&) {  // no thread for it: drop the connection
      std::lock_guard lock(mu_);
      connections_.erase(entry);
      connections_changed_.notify_all();
    }
  }
}

void Server::Impl::run_connection(std::shared_ptr<asio::io_context> ctx, tcp::socket socket,
                                  std::list<Connection>::iterator entry) {
  asio::co_spawn(*ctx, handle(std::move(socket)), [](std::exception_ptr) {});
  {
    std::lock_guard lock(mu_);
    if (stopping_) ctx->stop();
  }
  try {
    ctx->run();
  } catch (const std::exception&) {
  }
  {
    std::lock_guard lock(mu_);
    entry->ctx = nullptr;
  }
  ctx.reset();  // destroys what is left of the session (kills its process)
  std::lock_guard lock(mu_);
  connections_.erase(entry);
  connections_changed_.notify_all();
}

asio::awaitable<void> Server::Impl::handle(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  stream.expires_after(std::chrono::seconds(30));
  boost::system::error_code ec;
  co_await http::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));
  if (ec) {
    if (ec != http::error::end_of_stream && ec != beast::error::timeout && ec != asio::error::eof) {
      co_await respond(stream, http::status::bad_request, "malformed request");
    }
    co_return;
  }
  HttpRequest req = parser.release();
  stream.expires_never();

  auto target = parse_target(std::string_view(req.target().data(), req.target().size()));
  if (!target || (target->kind != "exec" && target->kind != "attach" && target->kind != "portforward")) {
    co_return co_await respond(stream, http::status::not_found, "not found");
  }
  auto request = tokens_.take(target->token);
  bool kind_matches = request && ((target->kind == "exec" && std::holds_alternative<ExecSpec>(*request)) ||
                                  (target->kind == "attach" && std::holds_alternative<AttachSpec>(*request)) ||
                                  (target->kind == "portforward" && std::holds_alternative<PortForwardSpec>(*request)));
  if (!kind_matches) co_return co_await respond(stream, http::status::not_found, "unknown or expired token");
  const bool port_forward = target->kind == "portforward";
  CommandRequest command;
  if (auto* exec = std::get_if<ExecSpec>(&*request)) {
    command.exec = true;
    command.exec_spec = *exec;
  } else if (auto* attach = std::get_if<AttachSpec>(&*request)) {
    command.exec = false;
    command.attach_spec = *attach;
  }

  if (websocket::is_upgrade(req)) {
    auto protocol = select_channel_protocol(header_values(req, "Sec-WebSocket-Protocol"), port_forward);
    if (!protocol) co_return co_await respond(stream, http::status::bad_request, "unsupported WebSocket protocol");
    std::vector<uint16_t> ports;
    if (port_forward) {
      auto parsed = query_ports(target->query);
      if (!parsed || parsed->empty()) {
        co_return co_await respond(stream, http::status::bad_request, "query parameter \"ports\" is required");
      }
      ports = *parsed;
    }
    websocket::stream<beast::tcp_stream> ws(std::move(stream));
    std::string name = protocol->name;
    ws.set_option(websocket::stream_base::decorator([name](websocket::response_type& res) {
      if (!name.empty()) res.set(http::field::sec_websocket_protocol, name);
    }));
    co_await ws.async_accept(req, redirect_error(use_awaitable, ec));
    if (ec) co_return;
    if (port_forward) {
      co_await serve_websocket_port_forward(std::move(ws), protocol->base64, std::move(ports),
                                            std::get<PortForwardSpec>(*request), backend_, limits_);
    } else {
      co_await serve_websocket_command(std::move(ws), protocol->version, protocol->base64, std::move(command),
                                       backend_, limits_);
    }
    co_return;
  }

  bool spdy = contains_token(header_values(req, "Connection"), "upgrade") &&
              beast::iequals(req[http::field::upgrade], "SPDY/3.1");
  if (!spdy) co_return co_await respond(stream, http::status::bad_request, "expected an upgrade to SPDY/3.1 or websocket");
  // The first protocol of the client's list that the server speaks; none offered: the oldest.
  std::vector<std::string> offered = header_values(req, "X-Stream-Protocol-Version");
  std::string chosen;
  std::vector<std::string> supported;
  if (port_forward) {
    supported = {kPortForwardProtocol};
  } else {
    supported.assign(std::begin(kSpdyCommandProtocols), std::end(kSpdyCommandProtocols));
  }
  for (const auto& p : offered) {
    if (chosen.empty() && contains_token(supported, p)) chosen = p;
  }
  if (!offered.empty() && chosen.empty()) {
    std::string accepted;
    for (const auto& p : supported) accepted += (accepted.empty() ? "" : ", ") + p;
    co_return co_await respond(stream, http::status::forbidden, "unable to upgrade: unsupported stream protocol",
                               "X-Accepted-Stream-Protocol-Versions", accepted);
  }
  http::response<http::empty_body> res{http::status::switching_protocols, 11};
  res.set(http::field::connection, "Upgrade");
  res.set(http::field::upgrade, "SPDY/3.1");
  if (!chosen.empty()) res.set("X-Stream-Protocol-Version", chosen);
  co_await http::async_write(stream, res, redirect_error(use_awaitable, ec));
  if (ec) co_return;
  std::string leftover = beast::buffers_to_string(buffer.data());
  tcp::socket socket_out = stream.release_socket();
  if (port_forward) {
    co_await serve_spdy_port_forward(std::move(socket_out), std::move(leftover), std::get<PortForwardSpec>(*request),
                                     backend_, limits_);
  } else {
    co_await serve_spdy_command(std::move(socket_out), std::move(leftover), chosen, std::move(command), backend_,
                                limits_);
  }
}

Server::Server(ServerOptions options, StreamBackend& backend)
    : impl_(std::make_unique<Impl>(std::move(options), backend)) {}
Server::~Server() { stop(); }
void Server::start() { impl_->start(); }
void Server::stop() { impl_->stop(); }
std::string Server::base_url() const { return impl_->base_url(); }
std::string Server::exec_url(ExecSpec spec) { return impl_->url("exec", std::move(spec)); }
std::string Server::attach_url(AttachSpec spec) { return impl_->url("attach", std::move(spec)); }
std::string Server::port_forward_url(PortForwardSpec spec) { return impl_->url("portforward", std::move(spec)); }
size_t Server::active_connections() const { return impl_->active(); }

}  // namespace crisp::streaming
