#pragma once
// Single-use, expiring tokens for the streaming URLs handed out by Exec, Attach and PortForward.
// A token is 128 random bits (hex); take() returns the request once, only before it expired.
// Thread-safe.
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "cri/streaming/backend.h"

namespace crisp::streaming {

using StreamRequest = std::variant<ExecSpec, AttachSpec, PortForwardSpec>;

class TokenStore {
 public:
  using Clock = std::chrono::steady_clock;
  // At most max_pending unexpired tokens; inserting more throws kResourceExhausted.
  explicit TokenStore(std::chrono::milliseconds ttl, size_t max_pending = 4096)
      : ttl_(ttl), max_pending_(max_pending) {}

  std::string insert(StreamRequest request);
  // The request behind token, removing it; nullopt if unknown, already used or expired.
  std::optional<StreamRequest> take(const std::string& token);
  size_t size() const;

 private:
  struct Entry {
    StreamRequest request;
    Clock::time_point expires;
  };
  void purge_expired_locked(Clock::time_point now);

  const std::chrono::milliseconds ttl_;
  const size_t max_pending_;
  mutable std::mutex mu_;                 // guards entries_
  std::map<std::string, Entry> entries_;  // token -> pending request
};

}  // namespace crisp::streaming
