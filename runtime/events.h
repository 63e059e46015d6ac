#pragma once
// In-process bus of lifecycle events (GetContainerEvents). Publishing never blocks: each
// subscriber has a bounded queue; when it overflows the oldest events are dropped.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "runtime/types.h"

namespace crisp::runtime {

class EventSubscription {
 public:
  // Waits up to timeout for the next event.
  std::optional<Event> next(std::chrono::milliseconds timeout);

 private:
  friend class EventBus;
  static constexpr size_t kMaxQueued = 4096;
  std::mutex mu_;  // guards queue_
  std::condition_variable cv_;
  std::deque<Event> queue_;
};

class EventBus {
 public:
  // The subscription receives events published from now on until it is destroyed.
  std::shared_ptr<EventSubscription> subscribe();
  void publish(const Event& event);

 private:
  std::mutex mu_;  // guards subscribers_
  std::vector<std::weak_ptr<EventSubscription>> subscribers_;
};

}  // namespace crisp::runtime
