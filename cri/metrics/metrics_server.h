#pragma once
// The Prometheus endpoint: HTTP/1.1 on one small thread (Boost.Beast). GET /metrics answers with
// scrape() in the text format 0.0.4; any other path is 404, any other method 405. Connections
// are served one request after another (keep-alive) and closed after 10 s of silence.
//
//   MetricsServer server("127.0.0.1:9090", [&] { return registry.render(); });
//   server.start();          // binds; "127.0.0.1:0" picks a free port, see address()
//   server.stop();
#include <functional>
#include <memory>
#include <string>

namespace crisp::metrics {

class MetricsServer {
 public:
  // scrape runs on the server's thread, once per GET /metrics.
  MetricsServer(std::string address, std::function<std::string()> scrape);
  ~MetricsServer();  // stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds HOST:PORT ([v6]:port) and starts the thread. Throws crisp::Error: kInvalidArgument for
  // a bad address, kUnavailable when it cannot bind.
  void start();
  // Closes the listener and every connection, joins the thread. Idempotent.
  void stop();
  // The bound address, "127.0.0.1:40123" (after start()).
  std::string address() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace crisp::metrics
