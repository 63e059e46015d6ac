// Pull time of the large fixture image (> 200 MB, 7 layers) from the local registry, cold and
// warm, at the library level. Runs only with CRISP_TEST_LARGE=1 (it takes a while).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>

#include "tests/integration/images/images_test_util.h"

namespace crisp::test {
namespace {

TEST(LargeImage, PullColdAndWarm) {
  if (!std::getenv("CRISP_TEST_LARGE")) GTEST_SKIP() << "set CRISP_TEST_LARGE=1 to pull the large image";
  PushedImage large = push_large_image(RegistryEnvironment::registry());
  ImageStore store;
  auto t0 = std::chrono::steady_clock::now();
  image::PullRequest req;
  req.ref = large.ref;
  std::string id = store->pull(req);
  double cold = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto record = store->find(id);
  ASSERT_TRUE(record);
  double mb = static_cast<double>(record->size) / 1e6;
  t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(store->pull(req), id);
  double warm = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("crisp-test/large (%.1f MB compressed, %zu layers): cold %.3f s (%.1f MB/s), warm %.4f s\n", mb,
              record->layer_digests.size(), cold, mb / cold, warm);
  MountedRootfs rootfs(*store, "c-large", id);
  EXPECT_TRUE(rootfs.exists("/large/blob1.bin") || rootfs.exists("/large/blob0.bin"));
  EXPECT_TRUE(rootfs.exists("/bin/sh"));
}

}  // namespace
}  // namespace crisp::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new crisp::test::RegistryEnvironment());
  return RUN_ALL_TESTS();
}
