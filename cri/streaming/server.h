#pragma once
// crispd's streaming server: the URLs returned by the CRI Exec, Attach and PortForward RPCs point
// here. It speaks HTTP/1.1 and upgrades to the Kubernetes streaming protocols, negotiated as the
// kubelet's clients (crictl, kubectl through the kubelet) do:
//   SPDY/3.1   X-Stream-Protocol-Version v4.channel.k8s.io, v3, v2, channel.k8s.io (exec/attach)
//              or portforward.k8s.io; one SPDY stream per stdin/stdout/stderr/error/resize, or a
//              data + error stream pair per forwarded connection.
//   WebSocket  v5.channel.k8s.io, v4.channel.k8s.io, channel.k8s.io and the base64 variants
//              (channel_protocol.h); port-forward with ?ports=<p1>,<p2>.
//
//   Server server({.address = "127.0.0.1:0"}, backend);
//   server.start();
//   std::string url = server.exec_url(spec);  // http://127.0.0.1:40123/exec/<token>
//
// Every connection runs on its own thread with its own io_context (coroutines inside); sessions
// never share locks with each other, so one stuck client stalls only itself. Tokens are single-use
// and expire (unknown/used/expired -> 404); a request that is not an upgrade -> 400; a frame or
// message over the size limit closes only that session; so does a client that stops reading for
// write_timeout (output is buffered up to output_buffer_limit, then the process is not read).
// start() sets SIGPIPE to SIG_IGN if it was SIG_DFL (stdin pipes of exited processes).
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "cri/streaming/backend.h"

namespace crisp::streaming {

struct ServerOptions {
  std::string address = "127.0.0.1:0";  // host:port; port 0 = a free port; [v6]:port
  std::chrono::milliseconds token_timeout = std::chrono::minutes(1);
  // How long an upgraded SPDY client may take to open its streams.
  std::chrono::milliseconds stream_creation_timeout = std::chrono::seconds(30);
  size_t max_connections = 512;           // more are closed at once
  size_t max_frame_length = 1 << 20;      // SPDY frame / WebSocket message limit
  size_t output_buffer_limit = 1 << 20;   // queued output per session before reading pauses
  // A client that takes longer than this to accept one write loses its session (exec killed).
  std::chrono::milliseconds write_timeout = std::chrono::seconds(60);
};

class Server {
 public:
  Server(ServerOptions options, StreamBackend& backend);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving; throws crisp::Error (kInvalidArgument for a bad address,
  // kUnavailable when it cannot bind).
  void start();
  // Stops accepting, ends every session (exec processes are killed) and waits for them.
  void stop();

  // "http://host:port" (the bound port).
  std::string base_url() const;
  // Single-use URLs for one request.
  std::string exec_url(ExecSpec spec);
  std::string attach_url(AttachSpec spec);
  std::string port_forward_url(PortForwardSpec spec);

  size_t active_connections() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace crisp::streaming
