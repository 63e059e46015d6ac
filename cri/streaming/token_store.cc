#include "cri/streaming/token_store.h"

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::streaming {

std::string TokenStore::insert(StreamRequest request) {
  auto now = Clock::now();
  std::string token = random_hex(16);
  std::lock_guard lock(mu_);
  purge_expired_locked(now);
  if (entries_.size() >= max_pending_) {
    throw Error(ErrorKind::kResourceExhausted, "too many pending streaming requests");
  }
  entries_[token] = Entry{std::move(request), now + ttl_};
  return token;
}

std::optional<StreamRequest> TokenStore::take(const std::string& token) {
  auto now = Clock::now();
  std::lock_guard lock(mu_);
  auto it = entries_.find(token);
  if (it == entries_.end()) return std::nullopt;
  Entry entry = std::move(it->second);
  entries_.erase(it);
  if (now >= entry.expires) return std::nullopt;
  return std::move(entry.request);
}

size_t TokenStore::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void TokenStore::purge_expired_locked(Clock::time_point now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = now >= it->second.expires ? entries_.erase(it) : std::next(it);
  }
}

}  // namespace crisp::streaming
