#include "tests/integration/network/pod_netns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <thread>
#include <vector>

#include "network/netlink.h"
#include "network/netns.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::network::testing {

TempDir::TempDir() {
  char pattern[] = "/tmp/crisp-netit-XXXXXX";
  if (!::mkdtemp(pattern)) throw_errno("mkdtemp");
  path_ = pattern;
}

TempDir::~TempDir() {
  try {
    crisp::remove_tree(path_);
  } catch (...) {
  }
}

PodNetns::PodNetns(const std::string& dir, const std::string& name) : path_(dir + "/" + name) {
  UniqueFd pin(::open(path_.c_str(), O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, 0600));
  if (!pin) throw_errno("create " + path_);
  pin.reset();
  std::string error;
  // A short-lived thread unshares, so the test thread keeps its netns.
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      error = "unshare";
      return;
    }
    if (::mount("/proc/thread-self/ns/net", path_.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      error = "bind mount netns";
      return;
    }
    try {
      RouteSocket sock;
      set_link_up(sock, "lo");
    } catch (const std::exception& e) {
      error = e.what();
    }
  }).join();
  if (!error.empty()) throw Error(ErrorKind::kInternal, "create pod netns: " + error);
  fd_ = open_netns(path_);
}

PodNetns::~PodNetns() { destroy(); }

void PodNetns::destroy() {
  fd_.reset();
  ::umount2(path_.c_str(), MNT_DETACH);
  ::unlink(path_.c_str());
}

namespace {

UniqueFd socket_in(int netns_fd, int family) {
  if (netns_fd < 0) return UniqueFd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  NetnsEntry entry(netns_fd);
  return UniqueFd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
}

// The peer's address as text; IPv4-mapped IPv6 addresses as plain IPv4.
std::string address_text(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = {};
  if (peer.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(peer).sin_addr, text, sizeof text);
    return text;
  }
  const auto& v6 = reinterpret_cast<const sockaddr_in6&>(peer);
  if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
    ::inet_ntop(AF_INET, &v6.sin6_addr.s6_addr[12], text, sizeof text);
  } else {
    ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
  }
  return text;
}

}  // namespace

UniqueFd listen_tcp(int netns_fd, int port) {
  // One dual-stack socket (IPv4 connections arrive as IPv4-mapped); plain IPv4 without IPv6.
  UniqueFd fd = socket_in(netns_fd, AF_INET6);
  if (fd) {
    int zero = 0, one = 1;
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(static_cast<uint16_t>(port));
    addr.sin6_addr = in6addr_any;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw_errno("bind");
  } else {
    fd = socket_in(netns_fd, AF_INET);
    if (!fd) throw_errno("socket");
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw_errno("bind");
  }
  if (::listen(fd.get(), 8) != 0) throw_errno("listen");
  return fd;
}

void serve_once(UniqueFd listener) {
  std::thread([listener = std::move(listener)]() mutable {
    pollfd p{listener.get(), POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return;
    UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    listener.reset();  // free the port before answering: the test may listen on it again at once
    if (!conn) return;
    char buf[64];
    pollfd q{conn.get(), POLLIN, 0};
    if (::poll(&q, 1, 3000) != 1) return;
    ssize_t n = ::read(conn.get(), buf, sizeof buf);
    if (n <= 0) return;
    std::string answer = "pong:" + std::string(buf, static_cast<size_t>(n));
    [[maybe_unused]] auto w = ::write(conn.get(), answer.data(), answer.size());
  }).detach();
}

void serve_peer_address_once(UniqueFd listener) {
  std::thread([listener = std::move(listener)]() mutable {
    pollfd p{listener.get(), POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return;
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    UniqueFd conn(::accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
    listener.reset();
    if (!conn) return;
    std::string answer = address_text(peer);
    [[maybe_unused]] auto w = ::write(conn.get(), answer.data(), answer.size());
  }).detach();
}

std::string tcp_exchange(int netns_fd, const std::string& ip, int port, int timeout_ms) {
  const bool ipv6 = ip.find(':') != std::string::npos;
  UniqueFd fd = socket_in(netns_fd, ipv6 ? AF_INET6 : AF_INET);
  if (!fd) throw_errno("socket");
  int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK);
  sockaddr_storage storage{};
  socklen_t addr_len = 0;
  if (ipv6) {
    auto& addr = reinterpret_cast<sockaddr_in6&>(storage);
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET6, ip.c_str(), &addr.sin6_addr);
    addr_len = sizeof addr;
  } else {
    auto& addr = reinterpret_cast<sockaddr_in&>(storage);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
    addr_len = sizeof addr;
  }
  int rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&storage), addr_len);
  if (rc != 0 && errno != EINPROGRESS) return "";
  pollfd p{fd.get(), POLLOUT, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return "";
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return "";
  if (::write(fd.get(), "ping", 4) != 4) return "";
  std::string answer;
  for (;;) {
    pollfd q{fd.get(), POLLIN, 0};
    if (::poll(&q, 1, timeout_ms) != 1) break;
    char buf[64];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  return answer;
}

int busybox_in(int netns_fd, const std::vector<std::string>& args) {
  std::vector<std::string> argv_strings = {"busybox"};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) != 0) _exit(126);
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::execv("/bin/busybox", argv.data());
    _exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

bool link_exists(int netns_fd, const std::string& name) {
  if (netns_fd < 0) {
    RouteSocket sock;
    return link_index(sock, name) != 0;
  }
  RouteSocket sock = RouteSocket::in_netns(netns_fd);
  return link_index(sock, name) != 0;
}

}  // namespace crisp::network::testing
