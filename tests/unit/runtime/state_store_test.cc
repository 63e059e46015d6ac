#include "runtime/state_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace crisp::runtime {
namespace {

TEST(StateRecords, SandboxRoundTrip) {
  SandboxRecord r;
  r.info.id = "abc";
  r.info.state = SandboxState::kReady;
  r.info.created_at_ns = 123456789012345;
  r.info.netns_path = "/run/crisp/sandboxes/abc/ns/net";
  r.info.ip = "10.88.0.2";
  r.info.additional_ips = {"fd00::2"};
  r.info.pod_init_pid = 77;
  r.pod_init_start_time = 999;
  auto& c = r.info.config;
  c.name = "pod";
  c.uid = "uid";
  c.namespace_name = "ns";
  c.attempt = 2;
  c.hostname = "host";
  c.log_directory = "/var/log/pods/x";
  c.runtime_handler = "crisp";
  c.dns = {{"10.0.0.10"}, {"svc.local"}, {"ndots:5"}};
  c.labels = {{"a", "b"}};
  c.annotations = {{"c", "d"}};
  c.network = NamespaceMode::kNode;
  c.pid = NamespaceMode::kPod;
  c.ipc = NamespaceMode::kNode;
  c.sysctls = {{"net.core.somaxconn", "1024"}};
  c.cgroup_parent = "/kubepods";
  c.privileged = true;
  c.userns.mode = NamespaceMode::kPod;
  c.userns.uids = {{0, 100000, 65536}};
  c.userns.gids = {{0, 200000, 65536}};
  auto back = sandbox_record_from_json(sandbox_record_to_json(r));
  EXPECT_EQ(back.info.config.userns.mode, NamespaceMode::kPod);
  EXPECT_EQ(back.info.config.userns.uids, c.userns.uids);
  EXPECT_EQ(back.info.config.userns.gids, c.userns.gids);
  EXPECT_EQ(sandbox_record_to_json(back), sandbox_record_to_json(r));
  EXPECT_EQ(back.info.config.dns.searches, c.dns.searches);
  EXPECT_EQ(back.info.config.pid, NamespaceMode::kPod);
  EXPECT_EQ(back.pod_init_start_time, 999u);
}

TEST(StateRecords, ContainerRoundTrip) {
  ContainerRecord r;
  r.info.id = "cid";
  r.info.sandbox_id = "sid";
  r.info.state = ContainerState::kExited;
  r.info.exit_code = 3;
  r.info.reason = "Error";
  r.info.message = "m";
  r.info.created_at_ns = 1;
  r.info.started_at_ns = 2;
  r.info.finished_at_ns = 3;
  r.info.log_path = "/l";
  r.info.pid = 0;
  r.creating = true;
  r.bundle_dir = "/b";
  r.stop_signal = 10;
  r.start_time = 5;
  r.monitor_pid = 6;
  r.monitor_start_time = 7;
  r.process.args = {"sh", "-c", "echo hi"};
  r.process.env = {"A=b"};
  r.process.uid = 1000;
  r.process.additional_gids = {1, 2};
  r.process.cap_bounding = 0x1234;
  auto& c = r.info.config;
  c.name = "c";
  c.image = "busybox";
  c.image_id = "sha256:1";
  c.image_ref = "busybox@sha256:2";
  c.command = {"sh"};
  c.args = {"-c", "x"};
  c.envs = {{"K", "V"}};
  c.mounts = {{"/d", "/h", true, MountPropagation::kBidirectional}};
  c.devices = {{"/dev/fuse", "/dev/fuse", "rw"}};
  c.labels = {{"l", "v"}};
  c.tty = true;
  c.run_as_user = 0;  // present and zero is not absent
  c.supplemental_groups = {5};
  c.pid_namespace = NamespaceMode::kTarget;
  c.pid_target_id = "other";
  auto back = container_record_from_json(container_record_to_json(r));
  EXPECT_EQ(container_record_to_json(back), container_record_to_json(r));
  ASSERT_TRUE(back.info.config.run_as_user.has_value());
  EXPECT_EQ(*back.info.config.run_as_user, 0);
  EXPECT_FALSE(back.info.config.run_as_group.has_value());
  EXPECT_EQ(back.info.config.mounts[0].propagation, MountPropagation::kBidirectional);
  EXPECT_EQ(back.process.cap_bounding, 0x1234u);
  EXPECT_TRUE(back.creating);
}

TEST(StateStore, SaveLoadRemoveAndSkipGarbage) {
  char tmpl[] = "/tmp/crisp-state-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  {
    StateStore store(dir);
    SandboxRecord s;
    s.info.id = "s1";
    store.save(s);
    ContainerRecord c;
    c.info.id = "c1";
    c.info.sandbox_id = "s1";
    store.save(c);
    FILE* f = std::fopen((dir + "/containers/garbage.json").c_str(), "w");
    std::fputs("{not json", f);
    std::fclose(f);
    EXPECT_EQ(store.load_sandboxes().size(), 1u);
    auto containers = store.load_containers();
    ASSERT_EQ(containers.size(), 1u);
    EXPECT_EQ(containers[0].info.id, "c1");
    store.remove_container("c1");
    store.remove_container("c1");
    store.remove_sandbox("s1");
    EXPECT_TRUE(store.load_sandboxes().empty());
  }
  std::filesystem::remove_all(dir);
}

TEST(LabelSelector, EveryPairMustMatch) {
  StringMap labels = {{"app", "web"}, {"tier", "front"}};
  EXPECT_TRUE(labels_match({}, labels));
  EXPECT_TRUE(labels_match({{"app", "web"}}, labels));
  EXPECT_TRUE(labels_match({{"app", "web"}, {"tier", "front"}}, labels));
  EXPECT_FALSE(labels_match({{"app", "db"}}, labels));
  EXPECT_FALSE(labels_match({{"missing", ""}}, labels));
}

}  // namespace
}  // namespace crisp::runtime
