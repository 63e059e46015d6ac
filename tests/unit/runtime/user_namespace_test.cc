// User namespace requests (CRI userns_options): validation, id lookups, the map text, the idmap
// options of the pod files and of CRI mounts that ask for mappings.
#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/base/error.h"
#include "runtime/container_spec_builder.h"
#include "runtime/sandbox_namespaces.h"

namespace crisp::runtime {
namespace {

UserNamespaceConfig pod_userns() {
  UserNamespaceConfig u;
  u.mode = NamespaceMode::kPod;
  u.uids = {{0, 100000, 65536}};
  u.gids = {{0, 100000, 65536}};
  return u;
}

ErrorKind kind_of(const UserNamespaceConfig& u) {
  try {
    validate_user_namespace(u);
  } catch (const Error& e) {
    return e.kind();
  }
  return ErrorKind::kInternal;  // "no error"
}

TEST(ValidateUserNamespace, AcceptsTheKubeletsMapping) {
  EXPECT_NO_THROW(validate_user_namespace(pod_userns()));
  UserNamespaceConfig node;
  EXPECT_NO_THROW(validate_user_namespace(node));
  UserNamespaceConfig two = pod_userns();
  two.uids.push_back({65536, 300000, 10});
  EXPECT_NO_THROW(validate_user_namespace(two));
}

TEST(ValidateUserNamespace, RefusesBadMappings) {
  auto bad = [](auto mutate) {
    UserNamespaceConfig u = pod_userns();
    mutate(u);
    return kind_of(u);
  };
  EXPECT_EQ(bad([](UserNamespaceConfig& u) { u.uids.clear(); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(bad([](UserNamespaceConfig& u) { u.gids.clear(); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(bad([](UserNamespaceConfig& u) { u.uids[0].length = 0; }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(bad([](UserNamespaceConfig& u) { u.uids[0].host_id = 4294967000u; }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(bad([](UserNamespaceConfig& u) { u.gids[0].container_id = 4294967295u - 10; }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(bad([](UserNamespaceConfig& u) { u.uids[0].container_id = 1; }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(bad([](UserNamespaceConfig& u) { u.uids.push_back({70000, 100500, 5}); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(bad([](UserNamespaceConfig& u) { u.uids.push_back({100, 900000, 5}); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(bad([](UserNamespaceConfig& u) { u.mode = NamespaceMode::kContainer; }), ErrorKind::kInvalidArgument);
}

TEST(UserNamespaceIds, HostIdAndMapText) {
  UserNamespaceConfig u = pod_userns();
  u.uids.push_back({65536, 500000, 2});
  EXPECT_EQ(host_id_of(u.uids, 0), 100000u);
  EXPECT_EQ(host_id_of(u.uids, 1000), 101000u);
  EXPECT_EQ(host_id_of(u.uids, 65537), 500001u);
  EXPECT_FALSE(host_id_of(u.uids, 65538).has_value());
  EXPECT_EQ(id_map_text(u.uids), "0 100000 65536\n65536 500000 2\n");
}

bool has_option(const monitor::MountSpec& m, const std::string& o) {
  return std::find(m.options.begin(), m.options.end(), o) != m.options.end();
}

const monitor::MountSpec* find(const std::vector<monitor::MountSpec>& mounts, const std::string& dest) {
  for (const auto& m : mounts)
    if (m.destination == dest) return &m;
  return nullptr;
}

TEST(BuildMountsInUserNamespace, PodFilesShmAndAskedMountsAreIdmapped) {
  PodFilePaths files{"/s/hostname", "/s/hosts", "/s/resolv.conf", "/s/shm"};
  ContainerConfig config;
  config.mounts.push_back({"/data", "/tmp", false, MountPropagation::kPrivate, false});
  config.mounts.push_back({"/plain", "/tmp", false, MountPropagation::kPrivate, false});
  config.mount_idmappings.push_back({"/data/", pod_userns().uids, pod_userns().gids});
  auto mounts = build_mounts(config, files, true);
  for (const char* dest : {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/dev/shm", "/data"}) {
    ASSERT_NE(find(mounts, dest), nullptr) << dest;
    EXPECT_TRUE(has_option(*find(mounts, dest), "idmap")) << dest;
  }
  EXPECT_FALSE(has_option(*find(mounts, "/plain"), "idmap"));
  EXPECT_FALSE(has_option(*find(mounts, "/proc"), "idmap"));
  // Without a user namespace nothing is idmapped, and a mount asking for mappings is refused.
  for (const auto& m : build_mounts(ContainerConfig{}, files)) EXPECT_FALSE(has_option(m, "idmap")) << m.destination;
  EXPECT_THROW(build_mounts(config, files, false), Error);
}

TEST(BuildBundleSpecInUserNamespace, JoinsThePodsUserNamespace) {
  SpecInputs in;
  in.config.command = {"sh"};
  in.rootfs = "/r";
  in.pod_files = {"/s/hostname", "/s/hosts", "/s/resolv.conf", "/s/shm"};
  EXPECT_EQ(build_bundle_spec(in).user.mode, monitor::NamespaceMode::kHost);
  in.userns_path = "/s/ns/user";
  auto spec = build_bundle_spec(in);
  EXPECT_EQ(spec.user.mode, monitor::NamespaceMode::kJoin);
  EXPECT_EQ(spec.user.path, "/s/ns/user");
}

}  // namespace
}  // namespace crisp::runtime
