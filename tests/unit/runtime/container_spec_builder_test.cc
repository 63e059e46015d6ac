#include "runtime/container_spec_builder.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <signal.h>

#include <algorithm>

#include "runtime/base/error.h"

namespace crisp::runtime {
namespace {

ImageConfig image_with(std::vector<std::string> entrypoint, std::vector<std::string> cmd) {
  ImageConfig image;
  image.entrypoint = std::move(entrypoint);
  image.cmd = std::move(cmd);
  return image;
}

using Args = std::vector<std::string>;

TEST(MergeCommand, ImageEntrypointAndCmd) {
  ContainerConfig config;
  EXPECT_EQ(merge_command(config, image_with({"/bin/sh", "-c"}, {"echo hi"})), (Args{"/bin/sh", "-c", "echo hi"}));
}

TEST(MergeCommand, ArgsReplaceCmdOnly) {
  ContainerConfig config;
  config.args = {"echo bye"};
  EXPECT_EQ(merge_command(config, image_with({"/bin/sh", "-c"}, {"echo hi"})), (Args{"/bin/sh", "-c", "echo bye"}));
}

TEST(MergeCommand, CommandReplacesEntrypointAndDropsCmd) {
  ContainerConfig config;
  config.command = {"sleep"};
  EXPECT_EQ(merge_command(config, image_with({"/bin/sh", "-c"}, {"echo hi"})), (Args{"sleep"}));
  config.args = {"10"};
  EXPECT_EQ(merge_command(config, image_with({"/bin/sh", "-c"}, {"echo hi"})), (Args{"sleep", "10"}));
}

TEST(MergeCommand, CmdAloneAndNothingAtAll) {
  ContainerConfig config;
  EXPECT_EQ(merge_command(config, image_with({}, {"sh"})), (Args{"sh"}));
  EXPECT_THROW(merge_command(config, image_with({}, {})), Error);
}

TEST(MergeEnv, CriReplacesAndAppendsAndDefaultsAreAdded) {
  auto env = merge_env({"PATH=/bin", "FOO=image", "KEEP=1"}, {{"FOO", "cri"}, {"NEW", "a=b"}}, "/home/app");
  EXPECT_EQ(env, (Args{"PATH=/bin", "FOO=cri", "KEEP=1", "NEW=a=b", "HOME=/home/app"}));
  auto defaults = merge_env({}, {}, "");
  EXPECT_EQ(defaults, (Args{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/"}));
  auto with_home = merge_env({"HOME=/x"}, {}, "/home/app");
  EXPECT_EQ(with_home[0], "HOME=/x");
}

PodFilePaths pod_files() { return PodFilePaths{"/s/hostname", "/s/hosts", "/s/resolv.conf", "/s/shm"}; }

const monitor::MountSpec* find_mount(const std::vector<monitor::MountSpec>& mounts, const std::string& dest) {
  auto it = std::find_if(mounts.begin(), mounts.end(), [&](const auto& m) { return m.destination == dest; });
  return it == mounts.end() ? nullptr : &*it;
}

bool has_option(const monitor::MountSpec& m, const std::string& option) {
  return std::find(m.options.begin(), m.options.end(), option) != m.options.end();
}

TEST(BuildMounts, DefaultsAndPodFiles) {
  ContainerConfig config;
  auto mounts = build_mounts(config, pod_files());
  std::vector<std::string> dests;
  for (const auto& m : mounts) dests.push_back(m.destination);
  EXPECT_EQ(dests, (Args{"/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/dev/shm", "/etc/hostname", "/etc/hosts",
                         "/etc/resolv.conf"}));
  EXPECT_TRUE(has_option(*find_mount(mounts, "/sys"), "ro"));
  EXPECT_EQ(find_mount(mounts, "/dev/shm")->source, "/s/shm");
  EXPECT_EQ(find_mount(mounts, "/etc/hosts")->source, "/s/hosts");
  EXPECT_FALSE(has_option(*find_mount(mounts, "/etc/hosts"), "ro"));
  config.readonly_rootfs = true;
  EXPECT_TRUE(has_option(*find_mount(build_mounts(config, pod_files()), "/etc/hosts"), "ro"));
}

TEST(BuildMounts, CriMountsPropagationReadonlyOrderAndOverride) {
  ContainerConfig config;
  config.mounts = {{"/data/sub/", "/tmp", false, MountPropagation::kBidirectional},
                   {"/data", "/tmp", true, MountPropagation::kHostToContainer},
                   {"/etc/hosts", "/etc/hosts", false, MountPropagation::kPrivate}};
  auto mounts = build_mounts(config, pod_files());
  auto data = std::find_if(mounts.begin(), mounts.end(), [](const auto& m) { return m.destination == "/data"; });
  auto sub = std::find_if(mounts.begin(), mounts.end(), [](const auto& m) { return m.destination == "/data/sub"; });
  ASSERT_NE(data, mounts.end());
  ASSERT_NE(sub, mounts.end());
  EXPECT_LT(data, sub);  // parents first
  EXPECT_TRUE(has_option(*data, "rslave"));
  EXPECT_TRUE(has_option(*data, "ro"));
  EXPECT_TRUE(has_option(*sub, "rshared"));
  EXPECT_TRUE(has_option(*sub, "rw"));
  EXPECT_EQ(data->type, "bind");
  // The kubelet's /etc/hosts replaces the pod's.
  EXPECT_EQ(std::count_if(mounts.begin(), mounts.end(), [](const auto& m) { return m.destination == "/etc/hosts"; }), 1);
  EXPECT_EQ(find_mount(mounts, "/etc/hosts")->source, "/etc/hosts");
}

TEST(BuildMounts, RecursiveReadOnlyMountsUseRro) {
  ContainerConfig config;
  config.mounts = {{"/data", "/tmp", true, MountPropagation::kPrivate, true},
                   {"/plain", "/tmp", true, MountPropagation::kPrivate, false}};
  auto mounts = build_mounts(config, pod_files());
  EXPECT_TRUE(has_option(*find_mount(mounts, "/data"), "rro"));
  EXPECT_FALSE(has_option(*find_mount(mounts, "/data"), "ro"));
  EXPECT_TRUE(has_option(*find_mount(mounts, "/plain"), "ro"));
}

TEST(BuildMounts, RelativeOrMissingPathsAreRejected) {
  ContainerConfig config;
  config.mounts = {{"relative", "/tmp", false, MountPropagation::kPrivate}};
  EXPECT_THROW(build_mounts(config, pod_files()), Error);
  config.mounts = {{"/x", "/no/such/host/path", false, MountPropagation::kPrivate}};
  EXPECT_THROW(build_mounts(config, pod_files()), Error);
}

TEST(StopSignal, NamesAndNumbers) {
  EXPECT_EQ(parse_stop_signal(""), SIGTERM);
  EXPECT_EQ(parse_stop_signal("SIGUSR1"), SIGUSR1);
  EXPECT_EQ(parse_stop_signal("QUIT"), SIGQUIT);
  EXPECT_EQ(parse_stop_signal("9"), SIGKILL);
  EXPECT_THROW(parse_stop_signal("SIGNOPE"), Error);
  EXPECT_THROW(parse_stop_signal("0"), Error);
}

TEST(Capabilities, DefaultSetIsTheFourteen) {
  uint64_t mask = default_capability_mask();
  EXPECT_EQ(__builtin_popcountll(mask), 14);
  EXPECT_TRUE(mask & (uint64_t{1} << CAP_NET_BIND_SERVICE));
  EXPECT_TRUE(mask & (uint64_t{1} << CAP_AUDIT_WRITE));
  EXPECT_FALSE(mask & (uint64_t{1} << CAP_SYS_ADMIN));
  EXPECT_FALSE(mask & (uint64_t{1} << CAP_NET_ADMIN));
}

TEST(BuildBundleSpec, NamespacesUserCwdAndHardening) {
  SpecInputs in;
  in.config.command = {"sleep", "1"};
  in.config.tty = true;
  in.config.pid_namespace = NamespaceMode::kPod;
  in.image.working_dir = "/work";
  in.user = ResolvedUser{1000, 1000, {1000, 2000}, "/home/app"};
  in.pod_namespaces = {"/s/ns/net", "/s/ns/ipc", "/s/ns/uts", "/proc/42/ns/pid"};
  in.pod_files = pod_files();
  in.rootfs = "/b/rootfs";
  in.log_path = "/logs/c.log";
  auto spec = build_bundle_spec(in);
  EXPECT_EQ(spec.process.args, (Args{"sleep", "1"}));
  EXPECT_EQ(spec.process.cwd, "/work");
  EXPECT_EQ(spec.process.uid, 1000u);
  EXPECT_EQ(spec.process.additional_gids, (std::vector<uint32_t>{1000, 2000}));
  EXPECT_TRUE(spec.process.terminal);
  EXPECT_EQ(spec.process.cap_bounding, default_capability_mask());
  EXPECT_EQ(spec.net.mode, monitor::NamespaceMode::kJoin);
  EXPECT_EQ(spec.net.path, "/s/ns/net");
  EXPECT_EQ(spec.pid.mode, monitor::NamespaceMode::kJoin);
  EXPECT_EQ(spec.pid.path, "/proc/42/ns/pid");
  EXPECT_EQ(spec.cgroup.mode, monitor::NamespaceMode::kHost);
  EXPECT_EQ(spec.log_path, "/logs/c.log");
  EXPECT_FALSE(spec.masked_paths.empty());
  EXPECT_NE(std::find(spec.readonly_paths.begin(), spec.readonly_paths.end(), "/proc/sys"), spec.readonly_paths.end());

  in.config.pid_namespace = NamespaceMode::kContainer;
  in.pod_namespaces = {};
  spec = build_bundle_spec(in);
  EXPECT_EQ(spec.net.mode, monitor::NamespaceMode::kHost);
  EXPECT_EQ(spec.pid.mode, monitor::NamespaceMode::kNew);
  in.config.working_dir = "relative";
  EXPECT_THROW(build_bundle_spec(in), Error);
}

}  // namespace
}  // namespace crisp::runtime
