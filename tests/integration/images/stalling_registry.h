#pragma once
// A tiny HTTP/1.1 server on 127.0.0.1 for pull tests the real registry cannot script: fixed
// answers by path; one path that sends the headers and part of the body and then stalls until the
// server is destroyed; answers that fail with 503 a few times first; redirects; and the bearer
// token flow (every /v2/ request needs "Authorization: Bearer <token>", handed out by /token to
// basic-auth clients).
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/base/unique_fd.h"

namespace crisp::test {

struct CannedResponse {
  CannedResponse(std::string type = "", std::string data = "", int code = 200)
      : content_type(std::move(type)), body(std::move(data)), status(code) {}
  std::string content_type;
  std::string body;
  int status = 200;
  int fail_times = 0;       // answer 503 this many times first
  std::string redirect_to;  // answer 307 with this Location (a path on this server)
};

struct BearerAuth {
  std::string token;  // non-empty: required on /v2/ paths
  std::string username;
  std::string password;
};

class StallingRegistry {
 public:
  // routes: request path ("/v2/x/manifests/latest") -> answer. stall_path: answered with the full
  // Content-Length but only stall_after bytes of its body, then nothing.
  // stall_once: only the first request of stall_path stalls; later ones are answered in full.
  StallingRegistry(std::map<std::string, CannedResponse> routes, std::string stall_path, size_t stall_after,
                   bool stall_once = false);
  ~StallingRegistry();
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_.load(); }
  int stalls() const { return stalls_.load(); }
  int token_requests() const { return token_requests_.load(); }
  void set_bearer(BearerAuth auth) { bearer_ = std::move(auth); }  // before the first request

 private:
  void serve();
  void handle(int fd);

  std::map<std::string, CannedResponse> routes_;
  std::string stall_path_;
  size_t stall_after_;
  bool stall_once_;
  std::atomic<int> stalls_{0};
  crisp::UniqueFd listen_fd_;
  crisp::UniqueFd stop_read_, stop_write_;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::atomic<int> token_requests_{0};
  BearerAuth bearer_;
  std::map<std::string, int> failures_;  // path -> 503s sent (connection threads; guarded by failures_mutex_)
  std::mutex failures_mutex_;
  std::thread acceptor_;
  std::vector<std::thread> connections_;  // joined in the destructor (acceptor thread only adds)
};

}  // namespace crisp::test
