#include "image/snapshot/chain_id.h"

#include <gtest/gtest.h>

namespace crisp::snapshot {
namespace {

TEST(ChainId, BaseLayerIsItsDiffId) { EXPECT_EQ(chain_id("", "sha256:aaaa"), "sha256:aaaa"); }

TEST(ChainId, ChildIsSha256OfParentSpaceDiffId) {
  // printf 'sha256:aaaa sha256:bbbb' | sha256sum
  EXPECT_EQ(chain_id("sha256:aaaa", "sha256:bbbb"),
            "sha256:2c4d8760379f05d0ad1ed610712309f0114e7345e6e6a351494cff030ffdf197");
}

TEST(ChainId, ListOfDiffIds) {
  auto ids = chain_ids({"sha256:aaaa", "sha256:bbbb", "sha256:cccc"});
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], "sha256:aaaa");
  EXPECT_EQ(ids[1], chain_id("sha256:aaaa", "sha256:bbbb"));
  EXPECT_EQ(ids[2], chain_id(ids[1], "sha256:cccc"));
  EXPECT_TRUE(chain_ids({}).empty());
}

TEST(ChainId, Validation) {
  EXPECT_TRUE(
      is_valid_chain_id("sha256:2c4d8760379f05d0ad1ed610712309f0114e7345e6e6a351494cff030ffdf197"));
  EXPECT_FALSE(is_valid_chain_id("sha256:aaaa"));
  EXPECT_FALSE(
      is_valid_chain_id("sha256:2C4D8760379f05d0ad1ed610712309f0114e7345e6e6a351494cff030ffdf197"));
  EXPECT_FALSE(
      is_valid_chain_id("sha512:2c4d8760379f05d0ad1ed610712309f0114e7345e6e6a351494cff030ffdf197"));
  EXPECT_FALSE(
      is_valid_chain_id("sha256:../8760379f05d0ad1ed610712309f0114e7345e6e6a351494cff030ffdf197"));
}

}  // namespace
}  // namespace crisp::snapshot
