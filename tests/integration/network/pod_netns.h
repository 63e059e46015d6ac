#pragma once
// Test helpers: pod network namespaces pinned in a temp dir (what the runtime does), sockets
// inside them, and running busybox inside them.
#include <string>
#include <vector>

#include "runtime/base/unique_fd.h"

namespace crisp::network::testing {

// A temp directory removed (after unmounting pins in it) at scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A fresh netns with lo up, pinned by a bind mount at <dir>/<name>. Removed in the destructor.
class PodNetns {
 public:
  PodNetns(const std::string& dir, const std::string& name);
  ~PodNetns();
  PodNetns(const PodNetns&) = delete;
  PodNetns& operator=(const PodNetns&) = delete;
  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }
  // Unpins and closes: the kernel destroys the netns (and the pod's veth).
  void destroy();

 private:
  std::string path_;
  UniqueFd fd_;
};

// A TCP socket listening on port inside the netns (netns_fd -1: the test's own netns), for IPv4
// and IPv6 (one dual-stack socket).
UniqueFd listen_tcp(int netns_fd, int port);
// Accepts one connection in a thread and answers "pong:" + what it read. Returns immediately.
void serve_once(UniqueFd listener);
// Accepts one connection in a thread and answers with the client's IP address as it sees it.
void serve_peer_address_once(UniqueFd listener);
// Connects from inside netns_fd (-1: own netns) to ip:port (IPv4 or IPv6), sends "ping", returns the answer
// ("" when the connection fails within timeout_ms).
std::string tcp_exchange(int netns_fd, const std::string& ip, int port, int timeout_ms = 2000);
// Runs /bin/busybox with args inside the netns; returns the exit status.
int busybox_in(int netns_fd, const std::vector<std::string>& args);
// Whether a link called name exists in the netns (-1: own netns).
bool link_exists(int netns_fd, const std::string& name);

}  // namespace crisp::network::testing
