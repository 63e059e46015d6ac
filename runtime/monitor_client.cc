#include "runtime/monitor_client.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "runtime/base/error.h"

namespace crisp::runtime {

namespace {
constexpr uint64_t kWakeToken = 0;
}

ExitWatcher::ExitWatcher(std::function<void(const std::string&)> on_exit) : on_exit_(std::move(on_exit)) {
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) throw_errno("epoll_create1");
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_) throw_errno("eventfd");
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeToken;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) != 0) throw_errno("epoll_ctl");
  thread_ = std::thread([this] { loop(); });
}

ExitWatcher::~ExitWatcher() {
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void ExitWatcher::watch(const std::string& key, UniqueFd pidfd) {
  std::lock_guard lock(mu_);
  if (auto it = watched_.find(key); it != watched_.end()) {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second.pidfd.get(), nullptr);
    tokens_.erase(it->second.token);
    watched_.erase(it);
  }
  uint64_t token = next_token_++;
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = token;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, pidfd.get(), &ev) != 0) throw_errno("epoll_ctl add pidfd");
  tokens_[token] = key;
  watched_[key] = Watched{std::move(pidfd), token};
}

void ExitWatcher::unwatch(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = watched_.find(key);
  if (it == watched_.end()) return;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second.pidfd.get(), nullptr);
  tokens_.erase(it->second.token);
  watched_.erase(it);
}

void ExitWatcher::loop() {
  struct epoll_event events[32];
  for (;;) {
    int n = ::epoll_wait(epoll_.get(), events, 32, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("crisp runtime: epoll_wait");
      return;
    }
    std::vector<std::string> exited;
    {
      std::lock_guard lock(mu_);
      for (int i = 0; i < n; ++i) {
        uint64_t token = events[i].data.u64;
        if (token == kWakeToken) return;
        auto t = tokens_.find(token);
        if (t == tokens_.end()) continue;
        auto w = watched_.find(t->second);
        if (w != watched_.end()) {
          ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w->second.pidfd.get(), nullptr);
          watched_.erase(w);
        }
        exited.push_back(t->second);
        tokens_.erase(t);
      }
    }
    for (const auto& key : exited) {
      try {
        on_exit_(key);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "crisp runtime: handling the exit of %s: %s\n", key.c_str(), e.what());
      }
    }
  }
}

}  // namespace crisp::runtime
