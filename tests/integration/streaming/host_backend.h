#pragma once
// A StreamBackend for tests: the "container" is the host. exec and attach spawn the command on
// the host (pipes, or a pty with tty); port-forward connects to 127.0.0.1 on the host.
#include <sys/types.h>

#include <mutex>
#include <string>
#include <vector>

#include "cri/streaming/backend.h"

namespace crisp::streaming::testing {

class HostBackend : public StreamBackend {
 public:
  std::unique_ptr<ProcessStreams> start_exec(const ExecSpec& spec) override;
  // Runs attach_command (a "container" writing output) with the requested streams.
  std::unique_ptr<ProcessStreams> attach(const AttachSpec& spec) override;
  UniqueFd port_forward_connect(const std::string& sandbox_id, uint16_t port) override;

  std::vector<std::string> attach_command = {"/bin/busybox", "sh", "-c", "echo attached; sleep 0.2; echo bye"};
  std::vector<pid_t> started();  // pids of every process started so far

 private:
  std::unique_ptr<ProcessStreams> spawn(const std::vector<std::string>& cmd, bool tty, bool stdin, bool stderr,
                                        TerminalSize size);
  std::mutex mu_;  // guards started_
  std::vector<pid_t> started_;
};

// True if pid is gone (or a zombie nobody reaped).
bool process_gone(pid_t pid);

}  // namespace crisp::streaming::testing
