#include "tests/integration/images/stalling_registry.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "image/registry_auth.h"
#include "runtime/base/error.h"

namespace crisp::test {

StallingRegistry::StallingRegistry(std::map<std::string, CannedResponse> routes, std::string stall_path,
                                   size_t stall_after, bool stall_once)
    : routes_(std::move(routes)), stall_path_(std::move(stall_path)), stall_after_(stall_after), stall_once_(stall_once) {
  listen_fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listen_fd_) throw_errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw_errno("bind");
  if (::listen(listen_fd_.get(), 16) != 0) throw_errno("listen");
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe2");
  stop_read_.reset(p[0]);
  stop_write_.reset(p[1]);
  acceptor_ = std::thread([this] { serve(); });
}

StallingRegistry::~StallingRegistry() {
  stop_write_.reset();  // every poll on stop_read_ wakes up
  acceptor_.join();
  for (auto& t : connections_) t.join();
}

void StallingRegistry::serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    connections_.emplace_back([this, fd] { handle(fd); });
  }
}

void StallingRegistry::handle(int raw_fd) {
  crisp::UniqueFd fd(raw_fd);
  std::string request;
  char buf[4096];
  while (request.find("\r\n\r\n") == std::string::npos) {
    pollfd fds[2] = {{fd.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 || fds[1].revents) return;
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n <= 0) return;
    request.append(buf, static_cast<size_t>(n));
  }
  size_t sp1 = request.find(' ');
  size_t sp2 = request.find(' ', sp1 + 1);
  std::string target = request.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string path = target.substr(0, target.find('?'));
  std::string extra_headers;
  CannedResponse response{"application/json", "{\"errors\":[{\"code\":\"NOT_FOUND\"}]}", 404};
  if (path == "/token") {
    ++token_requests_;
    std::string basic = "Authorization: Basic " + image::base64_encode(bearer_.username + ":" + bearer_.password);
    if (request.find(basic + "\r\n") != std::string::npos) {
      response = {"application/json", "{\"token\":\"" + bearer_.token + "\",\"expires_in\":300}", 200};
    } else {
      response = {"application/json", "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}", 401};
    }
  } else if (!bearer_.token.empty() && path.rfind("/v2/", 0) == 0 &&
             request.find("Authorization: Bearer " + bearer_.token + "\r\n") == std::string::npos) {
    response = {"application/json", "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}", 401};
    extra_headers = "WWW-Authenticate: Bearer realm=\"http://" + host() + "/token\",service=\"canned\",scope=\"repository:x:pull\"\r\n";
  } else {
    ++requests_;
    if (path == "/v2/") {
      response = {"application/json", "{}", 200};
    } else if (auto it = routes_.find(path); it != routes_.end()) {
      response = it->second;
      std::lock_guard lock(failures_mutex_);
      if (failures_[path] < response.fail_times) {
        ++failures_[path];
        response = {"application/json", "{\"errors\":[{\"code\":\"UNAVAILABLE\"}]}", 503};
      } else if (!response.redirect_to.empty()) {
        extra_headers = "Location: http://" + host() + response.redirect_to + "\r\n";
        response = {"text/plain", "", 307};
      }
    }
  }
  std::string head = "HTTP/1.1 " + std::to_string(response.status) + " X\r\nContent-Type: " + response.content_type +
                     "\r\nContent-Length: " + std::to_string(response.body.size()) + "\r\n" + extra_headers +
                     "Connection: close\r\n\r\n";
  bool stall = path == stall_path_ && (!stall_once_ || stalls_.load() == 0);
  if (stall) ++stalls_;
  std::string out = head + (stall ? response.body.substr(0, stall_after_) : response.body);
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::send(fd.get(), out.data() + off, out.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
  if (stall) {
    pollfd stop = {stop_read_.get(), POLLIN, 0};
    ::poll(&stop, 1, -1);
  }
}

}  // namespace crisp::test
