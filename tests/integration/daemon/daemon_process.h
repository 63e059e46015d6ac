#pragma once
// A crispd the test starts itself (for an environment or flags CrispdFixture does not give):
// spawned with extra environment variables, stdout and stderr appended to a log file, SIGKILLed
// and reaped by the destructor if still running. Use CrispdFixture(start = false) for the dirs,
// the command line and the clean-up of everything crispd made.
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "cri/proto/cri_api.h"

namespace crisp::test {

class DaemonProcess {
 public:
  DaemonProcess(const std::vector<std::string>& command, const std::vector<std::string>& extra_env,
                std::string log_path);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Sends a signal to the process.
  void signal(int sig) const;
  // SIGTERM, then waits up to 10 s. Returns the waitpid() status, or -1 (killed after 10 s).
  int stop();
  // Whether the process has exited (reaps it).
  bool exited();
  std::string log() const;
  // Waits until `needle` appears in the log (searching from byte `from`); false after `timeout`.
  bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout, size_t from = 0) const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

// A RuntimeService stub on a unix socket.
std::unique_ptr<::runtime::v1::RuntimeService::Stub> runtime_stub(const std::string& socket_path);
// Version answers within `deadline` (one attempt, waiting for the connection).
bool version_answers(::runtime::v1::RuntimeService::Stub& stub, std::chrono::milliseconds deadline);
// Polls Version until it answers; false after `timeout`.
bool wait_until_serving(::runtime::v1::RuntimeService::Stub& stub, std::chrono::milliseconds timeout);

}  // namespace crisp::test
