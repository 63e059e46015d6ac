#include "cri/streaming/token_store.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "runtime/base/error.h"

namespace crisp::streaming {
namespace {

TEST(TokenStore, TokensAreSingleUse) {
  TokenStore store(std::chrono::seconds(60));
  ExecSpec spec;
  spec.container_id = "c1";
  spec.cmd = {"sh"};
  std::string token = store.insert(spec);
  EXPECT_EQ(token.size(), 32u);
  auto got = store.take(token);
  ASSERT_TRUE(got);
  EXPECT_EQ(std::get<ExecSpec>(*got).container_id, "c1");
  EXPECT_FALSE(store.take(token));
  EXPECT_FALSE(store.take("nope"));
}

TEST(TokenStore, TokensExpire) {
  TokenStore store(std::chrono::milliseconds(50));
  std::string token = store.insert(AttachSpec{});
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  EXPECT_FALSE(store.take(token));
  // Expired entries are purged on insert.
  store.insert(PortForwardSpec{});
  EXPECT_EQ(store.size(), 1u);
}

TEST(TokenStore, TokensAreDistinctAndBounded) {
  TokenStore store(std::chrono::seconds(60), 100);
  std::set<std::string> tokens;
  for (int i = 0; i < 100; ++i) tokens.insert(store.insert(AttachSpec{}));
  EXPECT_EQ(tokens.size(), 100u);
  EXPECT_THROW(store.insert(AttachSpec{}), Error);
}

}  // namespace
}  // namespace crisp::streaming
