#pragma once
// A small SPDY/3.1 client for tests, speaking like moby/spdystream (the kubelet's clients): HTTP
// upgrade, client streams with odd ids, a reader thread that collects each stream's data.
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cri/streaming/spdy_frame.h"
#include "runtime/base/unique_fd.h"

namespace crisp::streaming::testing {

struct HttpUrl {
  std::string host;
  uint16_t port = 0;
  std::string target;  // path and query
};
HttpUrl parse_url(const std::string& url);
// A connected TCP socket to the URL's host and port.
UniqueFd connect_to(const HttpUrl& url);
// Sends raw bytes and returns the HTTP status code of the reply (0 if none).
int raw_http_status(const std::string& url, const std::string& request);

class SpdyClient {
 public:
  ~SpdyClient();
  // Sends the upgrade request; returns the HTTP status (101 on success) and starts reading frames.
  // With read_frames false nothing reads the connection (a client that stopped reading).
  int upgrade(const std::string& url, const std::vector<std::string>& protocols, bool read_frames = true);
  std::string negotiated() const { return negotiated_; }
  uint32_t open_stream(const spdy::HeaderBlock& headers, bool fin = false);
  void send(uint32_t stream_id, const std::string& data, bool fin = false);
  void send_raw(const std::string& bytes);
  // Waits until the stream got a FIN (or the connection closed); false on timeout.
  bool wait_fin(uint32_t stream_id, int timeout_ms = 10000);
  bool wait_closed(int timeout_ms = 10000);
  bool wait_data(uint32_t stream_id, size_t bytes, int timeout_ms = 10000);
  std::string data(uint32_t stream_id);
  void close();  // closes the socket at once

 private:
  void read_loop();

  UniqueFd fd_;
  std::string negotiated_;
  std::string leftover_;
  uint32_t next_id_ = 1;
  std::mutex write_mu_;  // guards deflater_ and socket writes
  spdy::HeaderCompressor deflater_;
  std::thread reader_;
  mutable std::mutex mu_;  // guards data_, fin_, closed_
  std::condition_variable cv_;
  std::map<uint32_t, std::string> data_;
  std::set<uint32_t> fin_;
  bool closed_ = false;
};

}  // namespace crisp::streaming::testing
