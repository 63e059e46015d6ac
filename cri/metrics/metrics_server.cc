#include "cri/metrics/metrics_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <thread>

#include "cri/metrics/metrics.h"
#include "runtime/base/error.h"

namespace crisp::metrics {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::redirect_error;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(10);

struct HostPort {
  asio::ip::address ip;
  uint16_t port = 0;
};

HostPort parse_address(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) throw Error(ErrorKind::kInvalidArgument, "metrics address " + address + ": no port");
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = -1;
  try {
    size_t used = 0;
    port = std::stoi(address.substr(colon + 1), &used);
    if (used != address.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
  }
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec || port < 0 || port > 65535)
    throw Error(ErrorKind::kInvalidArgument, "metrics address " + address + ": expected IP:PORT");
  return {ip, static_cast<uint16_t>(port)};
}

}  // namespace

class MetricsServer::Impl {
 public:
  Impl(std::string address, std::function<std::string()> scrape)
      : address_(std::move(address)), scrape_(std::move(scrape)) {}
  ~Impl() { stop(); }

  void start() {
    if (started_) return;
    HostPort where = parse_address(address_);
    tcp::endpoint endpoint(where.ip, where.port);
    // Every fd of crispd is close-on-exec from birth: monitors are spawned concurrently.
    int fd = ::socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) throw_errno(ErrorKind::kUnavailable, errno, "metrics server socket");
    boost::system::error_code ec;
    acceptor_.assign(endpoint.protocol(), fd, ec);
    if (ec) ::close(fd);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      throw Error(ErrorKind::kUnavailable, "metrics server cannot listen on " + address_ + ": " + ec.message());
    }
    auto bound = acceptor_.local_endpoint();
    bound_ = (bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string()) + ":" +
             std::to_string(bound.port());
    asio::co_spawn(ctx_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ctx_.run(); });
    started_ = true;
  }

  void stop() {
    if (!started_) return;
    started_ = false;
    ctx_.stop();  // pending accepts, reads and writes are abandoned; their sockets close below
    thread_.join();
    boost::system::error_code ec;
    acceptor_.close(ec);
  }

  std::string address() const { return bound_; }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      co_await acceptor_.async_wait(tcp::acceptor::wait_read, redirect_error(use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          asio::steady_timer backoff(ctx_, std::chrono::milliseconds(100));  // out of fds: breathe
          co_await backoff.async_wait(redirect_error(use_awaitable, ec));
        }
        continue;
      }
      tcp::socket socket(ctx_);
      socket.assign(acceptor_.local_endpoint().protocol(), fd, ec);
      if (ec) {
        ::close(fd);
        continue;
      }
      asio::co_spawn(ctx_, serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 * 1024);  // a scrape has no body
      stream.expires_after(kIdleTimeout);
      co_await http::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));
      if (ec) break;
      http::response<http::string_body> res = respond(parser.get());
      stream.expires_after(kIdleTimeout);
      co_await http::async_write(stream, res, redirect_error(use_awaitable, ec));
      if (ec || !res.keep_alive()) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  http::response<http::string_body> respond(const http::request<http::string_body>& req) {
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    std::string_view target(req.target().data(), req.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    if (path != "/metrics") {
      res.result(http::status::not_found);
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = "404 page not found: crispd serves metrics at /metrics\n";
    } else if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res.result(http::status::method_not_allowed);
      res.set(http::field::allow, "GET, HEAD");
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = "405 method not allowed\n";
    } else {
      res.result(http::status::ok);
      res.set(http::field::content_type, kTextContentType);
      try {
        if (req.method() == http::verb::get) res.body() = scrape_();
      } catch (const std::exception& e) {
        spdlog::error("metrics: scrape failed: {}", e.what());
        res.result(http::status::internal_server_error);
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.body() = std::string("scrape failed: ") + e.what() + "\n";
      }
    }
    res.prepare_payload();
    return res;
  }

  std::string address_;
  std::function<std::string()> scrape_;
  asio::io_context ctx_{1};
  tcp::acceptor acceptor_{ctx_};
  std::thread thread_;
  std::string bound_;
  bool started_ = false;
};

MetricsServer::MetricsServer(std::string address, std::function<std::string()> scrape)
    : impl_(std::make_unique<Impl>(std::move(address), std::move(scrape))) {}
MetricsServer::~MetricsServer() = default;
void MetricsServer::start() { impl_->start(); }
void MetricsServer::stop() { impl_->stop(); }
std::string MetricsServer::address() const { return impl_->address(); }

}  // namespace crisp::metrics
