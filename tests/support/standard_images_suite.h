#pragma once
// Base of GoogleTest fixtures whose tests pull the standard test images (test_images.h) from one
// local registry per suite: the registry starts and the images are pushed once, before the
// suite's first test, and the registry stops after its last. As root only (the tests that use it
// start crispd and skip otherwise).
//
//   class MyCrispdTest : public crisp::test::StandardImagesSuite { ... };
//   ... pull(crispd.images(), images_->busybox.ref); ... registry_->host() ...
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/support/registry_fixture.h"
#include "tests/support/test_images.h"

namespace crisp::test {

class StandardImagesSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    registry_ = new RegistryFixture();
    images_ = new StandardImages(push_standard_images(*registry_));
  }
  static void TearDownTestSuite() {
    delete images_;
    delete registry_;
    images_ = nullptr;
    registry_ = nullptr;
  }

  inline static RegistryFixture* registry_ = nullptr;
  inline static StandardImages* images_ = nullptr;
};

}  // namespace crisp::test
