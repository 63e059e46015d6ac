#pragma once
// What the streaming server needs from the runtime, and nothing more: it never sees containers,
// monitors or namespaces, only file descriptors. cri/ implements StreamBackend with the runtime
// library (cri/runtime_service/stream_backend.cc); the tests implement it with host processes.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/base/unique_fd.h"

namespace crisp::streaming {

struct TerminalSize {
  uint16_t width = 0;   // columns
  uint16_t height = 0;  // rows
};

// A CRI Exec request, validated by cri/ when the URL was handed out.
struct ExecSpec {
  std::string container_id;
  std::vector<std::string> cmd;
  bool tty = false;
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
  TerminalSize initial_size;  // tty: the client's window when known (0x0 = unknown)
};

// A CRI Attach request.
struct AttachSpec {
  std::string container_id;
  bool tty = false;
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
  TerminalSize initial_size;  // tty: the client's window when known (0x0 = unknown)
};

// A CRI PortForward request: the ports a WebSocket client may ask for are listed in its URL query;
// SPDY clients name a port per stream.
struct PortForwardSpec {
  std::string sandbox_id;
  std::vector<uint16_t> ports;  // informative; any port may be forwarded
};

// A running exec command or an attachment to a container's stdio, seen as file descriptors.
// The fds are the server's ends (O_CLOEXEC, blocking or not: the server makes them non-blocking).
// stdin_fd is invalid when no stdin was asked for; stderr_fd is invalid with a tty. Closing
// stdin_fd is how the client's end of input reaches the process.
class ProcessStreams {
 public:
  virtual ~ProcessStreams() = default;  // kill() if still running, then reap / detach
  // Blocks until the process exited and returns its exit code (128+n when killed by signal n).
  // An attach returns 0 when the container's output ended (or the attachment was dropped).
  // Called once, from a helper thread.
  virtual int wait() = 0;
  // Ends the process (exec) or the attachment (attach: the container keeps running). Thread-safe,
  // idempotent; makes a pending wait() return soon.
  virtual void kill() = 0;
  // The client's window size (tty sessions only); best effort, may be called from any thread.
  virtual void resize(TerminalSize size) = 0;

  UniqueFd stdin_fd;   // write end
  UniqueFd stdout_fd;  // read end (the terminal's output with a tty)
  UniqueFd stderr_fd;  // read end
};

class StreamBackend {
 public:
  virtual ~StreamBackend() = default;
  // Starts the command; throws crisp::Error (e.g. kNotFound, kFailedPrecondition) when it cannot.
  virtual std::unique_ptr<ProcessStreams> start_exec(const ExecSpec& spec) = 0;
  virtual std::unique_ptr<ProcessStreams> attach(const AttachSpec& spec) = 0;
  // A TCP socket connected to 127.0.0.1:<port> inside the pod's network namespace.
  virtual UniqueFd port_forward_connect(const std::string& sandbox_id, uint16_t port) = 0;
};

}  // namespace crisp::streaming
