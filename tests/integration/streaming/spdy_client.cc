#include "tests/integration/streaming/spdy_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace crisp::streaming::testing {

HttpUrl parse_url(const std::string& url) {
  HttpUrl out;
  std::string rest = url.substr(url.find("://") + 3);
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  out.target = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = hostport.rfind(':');
  out.host = hostport.substr(0, colon);
  out.port = static_cast<uint16_t>(std::stoi(hostport.substr(colon + 1)));
  return out;
}

UniqueFd connect_to(const HttpUrl& url) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(url.port);
  ::inet_pton(AF_INET, url.host.c_str(), &addr.sin_addr);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    throw std::runtime_error("connect failed");
  }
  return fd;
}

namespace {

void write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// Reads the HTTP response head; returns it and keeps what follows in leftover.
std::string read_head(int fd, std::string& leftover) {
  std::string in;
  char buf[4096];
  while (in.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return in;
  leftover = in.substr(end + 4);
  return in.substr(0, end + 2);
}

int status_of(const std::string& head) {
  if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) return 0;
  return std::stoi(head.substr(9, 3));
}

}  // namespace

int raw_http_status(const std::string& url, const std::string& request) {
  UniqueFd fd = connect_to(parse_url(url));
  write_all(fd.get(), request);
  std::string leftover;
  return status_of(read_head(fd.get(), leftover));
}

SpdyClient::~SpdyClient() { close(); }

int SpdyClient::upgrade(const std::string& url, const std::vector<std::string>& protocols, bool read_frames) {
  HttpUrl u = parse_url(url);
  fd_ = connect_to(u);
  std::string req = "POST " + u.target + " HTTP/1.1\r\nHost: " + u.host + ":" + std::to_string(u.port) +
                    "\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n";
  for (const auto& p : protocols) req += "X-Stream-Protocol-Version: " + p + "\r\n";
  req += "Content-Length: 0\r\n\r\n";
  write_all(fd_.get(), req);
  std::string head = read_head(fd_.get(), leftover_);
  int status = status_of(head);
  size_t at = head.find("X-Stream-Protocol-Version: ");
  if (at != std::string::npos) {
    at += 27;
    negotiated_ = head.substr(at, head.find("\r\n", at) - at);
  }
  if (status == 101 && read_frames) reader_ = std::thread([this] { read_loop(); });
  return status;
}

uint32_t SpdyClient::open_stream(const spdy::HeaderBlock& headers, bool fin) {
  std::lock_guard lock(write_mu_);
  spdy::SynStream syn;
  syn.stream_id = next_id_;
  next_id_ += 2;
  syn.headers = headers;
  syn.flags = fin ? spdy::kFlagFin : 0;
  write_all(fd_.get(), spdy::encode_syn_stream(syn, deflater_));
  return syn.stream_id;
}

void SpdyClient::send(uint32_t stream_id, const std::string& data, bool fin) {
  std::lock_guard lock(write_mu_);
  write_all(fd_.get(), spdy::encode_data(stream_id, data, fin ? spdy::kFlagFin : 0));
}

void SpdyClient::send_raw(const std::string& bytes) {
  std::lock_guard lock(write_mu_);
  write_all(fd_.get(), bytes);
}

void SpdyClient::read_loop() {
  spdy::FrameDecoder decoder(16 << 20);
  spdy::HeaderDecompressor inflater;
  decoder.feed(leftover_.data(), leftover_.size());
  char buf[16384];
  try {
    for (;;) {
      while (auto frame = decoder.next()) {
        std::lock_guard lock(mu_);
        if (!frame->control) {
          data_[frame->stream_id] += frame->payload;
          if (frame->flags & spdy::kFlagFin) fin_.insert(frame->stream_id);
        } else if (frame->is(spdy::ControlType::kSynReply)) {
          auto reply = spdy::decode_syn_reply(*frame, inflater);
          if (reply.flags & spdy::kFlagFin) fin_.insert(reply.stream_id);
        } else if (frame->is(spdy::ControlType::kRstStream)) {
          fin_.insert(spdy::decode_stream_id(*frame));
        }
        cv_.notify_all();
      }
      ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
      if (n <= 0) break;
      decoder.feed(buf, static_cast<size_t>(n));
    }
  } catch (const std::exception&) {
  }
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

bool SpdyClient::wait_fin(uint32_t stream_id, int timeout_ms) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return fin_.count(stream_id) || closed_; });
}

bool SpdyClient::wait_closed(int timeout_ms) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return closed_; });
}

bool SpdyClient::wait_data(uint32_t stream_id, size_t bytes, int timeout_ms) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return data_[stream_id].size() >= bytes || closed_; });
}

std::string SpdyClient::data(uint32_t stream_id) {
  std::lock_guard lock(mu_);
  return data_[stream_id];
}

void SpdyClient::close() {
  if (fd_) ::shutdown(fd_.get(), SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
  fd_.reset();
}

}  // namespace crisp::streaming::testing
