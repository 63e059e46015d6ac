#include "image/hosts_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::image {
namespace {

TEST(HostsConfig, Defaults) {
  RegistryHost h = default_registry_host("docker.io");
  EXPECT_EQ(h.api_root(), "https://registry-1.docker.io/v2");
  EXPECT_EQ(default_registry_host("quay.io").api_root(), "https://quay.io/v2");
  EXPECT_EQ(default_registry_host("127.0.0.1:5000").api_root(), "http://127.0.0.1:5000/v2");
  EXPECT_EQ(default_registry_host("localhost").scheme, "http");
  EXPECT_EQ(default_registry_host("[::1]:5000").scheme, "http");
  EXPECT_EQ(default_registry_host("10.0.0.1:5000").scheme, "https");
  EXPECT_TRUE(is_loopback_host("localhost:80"));
  EXPECT_FALSE(is_loopback_host("localhost.example.com"));
}

TEST(HostsConfig, MirrorsInFileOrderThenServer) {
  std::string toml = R"(
server = "https://registry.k8s.io"

[host."http://zz-mirror.local:5000"]
  capabilities = ["pull", "resolve"]
  skip_verify = true

[host."https://aa-mirror.local/prefix"]
  capabilities = ["pull"]
  ca = "certs/ca.pem"
  client = [["c.cert", "/abs/c.key"]]
  [host."https://aa-mirror.local/prefix".header]
    x-custom = "one"
    x-list = ["a", "b"]

[host."https://override.local/api/root"]
  override_path = true
)";
  auto hosts = parse_hosts_toml(toml, "registry.k8s.io", "/etc/crisp/certs.d/registry.k8s.io", "hosts.toml");
  ASSERT_EQ(hosts.size(), 4u);
  EXPECT_EQ(hosts[0].api_root(), "http://zz-mirror.local:5000/v2");
  EXPECT_TRUE(hosts[0].pull);
  EXPECT_TRUE(hosts[0].resolve);
  EXPECT_TRUE(hosts[0].skip_verify);
  EXPECT_EQ(hosts[1].api_root(), "https://aa-mirror.local/prefix/v2");
  EXPECT_TRUE(hosts[1].pull);
  EXPECT_FALSE(hosts[1].resolve);
  ASSERT_EQ(hosts[1].ca_files.size(), 1u);
  EXPECT_EQ(hosts[1].ca_files[0], "/etc/crisp/certs.d/registry.k8s.io/certs/ca.pem");
  ASSERT_EQ(hosts[1].client_certs.size(), 1u);
  EXPECT_EQ(hosts[1].client_certs[0].first, "/etc/crisp/certs.d/registry.k8s.io/c.cert");
  EXPECT_EQ(hosts[1].client_certs[0].second, "/abs/c.key");
  EXPECT_EQ(hosts[1].headers.at("x-custom"), "one");
  EXPECT_EQ(hosts[1].headers.at("x-list"), "a, b");
  EXPECT_EQ(hosts[2].api_root(), "https://override.local/api/root");
  EXPECT_EQ(hosts[3].api_root(), "https://registry.k8s.io/v2");
  EXPECT_TRUE(hosts[3].resolve);
}

TEST(HostsConfig, NoServerMeansTheDefault) {
  auto hosts = parse_hosts_toml("[host.\"http://127.0.0.1:5000\"]\n", "docker.io", "/x", "hosts.toml");
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0].api_root(), "http://127.0.0.1:5000/v2");
  EXPECT_EQ(hosts[1].api_root(), "https://registry-1.docker.io/v2");
}

TEST(HostsConfig, RefusesBadFiles) {
  EXPECT_THROW(parse_hosts_toml("server = [", "x.io", "/x", "f"), Error);
  EXPECT_THROW(parse_hosts_toml("[host.\"ftp://x\"]\n", "x.io", "/x", "f"), Error);
  EXPECT_THROW(parse_hosts_toml("[host.\"http://x\"]\ncapabilities = [\"fly\"]\n", "x.io", "/x", "f"), Error);
  EXPECT_THROW(parse_hosts_toml("skip_verify = \"yes\"\n", "x.io", "/x", "f"), Error);
}

TEST(HostsConfig, DirectoryLookupWithDefaultFallback) {
  char tmpl[] = "/tmp/crisp-hosts-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  make_dirs(dir + "/registry.example.invalid");
  atomic_write_file(dir + "/registry.example.invalid/hosts.toml",
                    "server = \"https://registry.example.invalid\"\n[host.\"http://127.0.0.1:5000\"]\n");
  auto hosts = registry_hosts(dir, "registry.example.invalid");
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0].host, "127.0.0.1:5000");
  // No file: the default host.
  hosts = registry_hosts(dir, "quay.io");
  ASSERT_EQ(hosts.size(), 1u);
  EXPECT_EQ(hosts[0].api_root(), "https://quay.io/v2");
  // _default applies to every registry without its own file.
  make_dirs(dir + "/_default");
  atomic_write_file(dir + "/_default/hosts.toml", "[host.\"http://127.0.0.1:6000\"]\n");
  hosts = registry_hosts(dir, "quay.io");
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0].host, "127.0.0.1:6000");
  EXPECT_EQ(hosts[1].host, "quay.io");
  remove_tree(dir);
}

}  // namespace
}  // namespace crisp::image
