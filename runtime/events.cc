#include "runtime/events.h"

#include <algorithm>

namespace crisp::runtime {

std::optional<Event> EventSubscription::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !queue_.empty(); })) return std::nullopt;
  Event event = std::move(queue_.front());
  queue_.pop_front();
  return event;
}

std::shared_ptr<EventSubscription> EventBus::subscribe() {
  auto subscription = std::make_shared<EventSubscription>();
  std::lock_guard lock(mu_);
  subscribers_.push_back(subscription);
  return subscription;
}

void EventBus::publish(const Event& event) {
  std::lock_guard lock(mu_);
  std::erase_if(subscribers_, [](const auto& weak) { return weak.expired(); });
  for (auto& weak : subscribers_) {
    auto subscription = weak.lock();
    if (!subscription) continue;
    {
      std::lock_guard sub_lock(subscription->mu_);
      if (subscription->queue_.size() >= EventSubscription::kMaxQueued) {
        subscription->queue_.pop_front();
      }
      subscription->queue_.push_back(event);
    }
    subscription->cv_.notify_one();
  }
}

}  // namespace crisp::runtime
