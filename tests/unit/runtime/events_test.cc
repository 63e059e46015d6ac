#include "runtime/events.h"

#include <gtest/gtest.h>

#include <thread>

namespace crisp::runtime {
namespace {

using namespace std::chrono_literals;

TEST(EventBus, SubscribersGetEventsPublishedAfterSubscribing) {
  EventBus bus;
  bus.publish({EventType::kContainerCreated, "early", "s", 1});
  auto a = bus.subscribe();
  auto b = bus.subscribe();
  bus.publish({EventType::kContainerStarted, "c", "s", 2});
  auto ea = a->next(100ms);
  ASSERT_TRUE(ea);
  EXPECT_EQ(ea->container_id, "c");
  EXPECT_EQ(ea->type, EventType::kContainerStarted);
  EXPECT_TRUE(b->next(100ms));
  EXPECT_FALSE(a->next(10ms));
  b.reset();
  bus.publish({EventType::kContainerStopped, "c", "s", 3});  // a dropped subscriber is skipped
  EXPECT_TRUE(a->next(100ms));
}

TEST(EventBus, WaitWakesUpOnPublish) {
  EventBus bus;
  auto sub = bus.subscribe();
  std::thread t([&] {
    std::this_thread::sleep_for(50ms);
    bus.publish({EventType::kContainerDeleted, "x", "s", 4});
  });
  auto e = sub->next(5s);
  t.join();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EventType::kContainerDeleted);
}

}  // namespace
}  // namespace crisp::runtime
