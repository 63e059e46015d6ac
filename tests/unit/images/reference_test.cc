#include "image/reference.h"

#include <gtest/gtest.h>

#include "runtime/base/error.h"

namespace crisp::image {
namespace {

std::string norm(const std::string& s) { return parse_reference(s).string(); }

TEST(Reference, NormalisesDockerHubNames) {
  EXPECT_EQ(norm("busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
  EXPECT_EQ(norm("library/busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(norm("docker.io/busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(norm("index.docker.io/library/busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(norm("user/app:v1"), "docker.io/user/app:v1");
}

TEST(Reference, KeepsOtherRegistries) {
  Reference r = parse_reference("registry.k8s.io/pause:3.9");
  EXPECT_EQ(r.domain, "registry.k8s.io");
  EXPECT_EQ(r.path, "pause");
  EXPECT_EQ(r.tag, "3.9");
  EXPECT_EQ(r.registry_reference(), "3.9");
  r = parse_reference("127.0.0.1:5000/crisp-test/busybox");
  EXPECT_EQ(r.domain, "127.0.0.1:5000");
  EXPECT_EQ(r.path, "crisp-test/busybox");
  EXPECT_EQ(r.tag, "latest");
  EXPECT_EQ(parse_reference("localhost/x").domain, "localhost");
  EXPECT_EQ(parse_reference("localhost:5000/x:y").name(), "localhost:5000/x");
  EXPECT_EQ(parse_reference("[::1]:5000/x").domain, "[::1]:5000");
  EXPECT_EQ(parse_reference("Quay.IO/a/b").domain, "quay.io");
}

TEST(Reference, Digests) {
  std::string d = "sha256:" + std::string(64, 'a');
  Reference r = parse_reference("busybox@" + d);
  EXPECT_EQ(r.tag, "");
  EXPECT_EQ(r.digest, d);
  EXPECT_EQ(r.registry_reference(), d);
  EXPECT_EQ(r.string(), "docker.io/library/busybox@" + d);
  r = parse_reference("quay.io/a/b:v2@" + d);
  EXPECT_EQ(r.tag, "v2");
  EXPECT_EQ(r.registry_reference(), d);
}

TEST(Reference, RefusesMalformed) {
  for (const char* bad : {"", "Busybox", "busybox:", "busybox@sha256:abc", "a//b", "a b", "-x", "x:-tag",
                          "busybox@md5:0123", "host:5000/", ":tag"}) {
    EXPECT_THROW(parse_reference(bad), Error) << bad;
    try {
      parse_reference(bad);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << bad;
    }
  }
}

TEST(Reference, DigestHelpers) {
  EXPECT_TRUE(is_sha256_digest("sha256:" + std::string(64, '0')));
  EXPECT_FALSE(is_sha256_digest("sha256:" + std::string(63, '0')));
  EXPECT_FALSE(is_sha256_digest("sha256:" + std::string(64, 'A')));
  EXPECT_TRUE(is_sha256_hex(std::string(64, 'f')));
}

}  // namespace
}  // namespace crisp::image
