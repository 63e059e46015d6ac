#pragma once
// Is crispd serving? Asks its own CRI socket for Version, as the kubelet would: the answer proves
// the listener, gRPC's threads and the handlers all work. Used by the systemd watchdog.
#include <chrono>
#include <memory>
#include <string>

namespace crisp::cri {

class CriHealthCheck {
 public:
  explicit CriHealthCheck(const std::string& socket_path);
  ~CriHealthCheck();
  CriHealthCheck(const CriHealthCheck&) = delete;
  CriHealthCheck& operator=(const CriHealthCheck&) = delete;

  // True when Version answers within `deadline`.
  bool operator()(std::chrono::milliseconds deadline);

 private:
  struct Client;
  std::unique_ptr<Client> client_;
};

}  // namespace crisp::cri
