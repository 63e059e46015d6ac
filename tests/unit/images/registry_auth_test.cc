#include "image/registry_auth.h"

#include <gtest/gtest.h>

#include "runtime/base/error.h"

namespace crisp::image {
namespace {

TEST(WwwAuthenticate, Bearer) {
  auto ch = parse_www_authenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
  ASSERT_EQ(ch.size(), 1u);
  EXPECT_EQ(ch[0].scheme, "bearer");
  EXPECT_EQ(ch[0].params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(ch[0].params["service"], "registry.docker.io");
  EXPECT_EQ(ch[0].params["scope"], "repository:library/busybox:pull");
}

TEST(WwwAuthenticate, BasicAndSeveralChallenges) {
  auto ch = parse_www_authenticate(R"(Basic realm="Registry Realm", Bearer realm="https://a/t", service=x, error="invalid_token")");
  ASSERT_EQ(ch.size(), 2u);
  EXPECT_EQ(ch[0].scheme, "basic");
  EXPECT_EQ(ch[0].params["realm"], "Registry Realm");
  EXPECT_EQ(ch[1].scheme, "bearer");
  EXPECT_EQ(ch[1].params["realm"], "https://a/t");
  EXPECT_EQ(ch[1].params["service"], "x");
  EXPECT_EQ(ch[1].params["error"], "invalid_token");
}

TEST(WwwAuthenticate, EscapesAndOddSpacing) {
  auto ch = parse_www_authenticate(R"(  BEARER   realm = "a\"b" ,scope="s1 s2")");
  ASSERT_EQ(ch.size(), 1u);
  EXPECT_EQ(ch[0].scheme, "bearer");
  EXPECT_EQ(ch[0].params["realm"], "a\"b");
  EXPECT_EQ(ch[0].params["scope"], "s1 s2");
  EXPECT_TRUE(parse_www_authenticate("").empty());
}

TEST(Credentials, Base64AndAuthField) {
  EXPECT_EQ(base64_encode("user:secret"), "dXNlcjpzZWNyZXQ=");
  EXPECT_EQ(base64_decode("dXNlcjpzZWNyZXQ="), "user:secret");
  EXPECT_EQ(base64_decode("dXNlcjpzZWNyZXQ"), "user:secret");
  PullAuth a;
  a.auth = "dXNlcjpzZWNyZXQ=";
  auto [u, p] = basic_credentials(a);
  EXPECT_EQ(u, "user");
  EXPECT_EQ(p, "secret");
  a.username = "other";
  a.password = "pw";
  EXPECT_EQ(basic_credentials(a).first, "other");
  PullAuth bad;
  bad.auth = base64_encode("nocolon");
  EXPECT_THROW(basic_credentials(bad), Error);
  EXPECT_TRUE(PullAuth{}.empty());
}

TEST(TokenCache, Expires) {
  TokenCache cache;
  cache.put("k", "t", std::chrono::seconds(60));
  EXPECT_EQ(cache.get("k").value_or(""), "t");
  cache.put("k0", "t", std::chrono::seconds(0));
  EXPECT_FALSE(cache.get("k0").has_value());
  EXPECT_FALSE(cache.get("missing").has_value());
}

}  // namespace
}  // namespace crisp::image
