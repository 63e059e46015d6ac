// Pods with a user namespace of their own (CRI userns_options mode POD) through a real crispd:
// the mappings seen inside, root inside = host uid 100000 outside, image files owned by root inside
// while what the container writes lands with host ids in its upper dir, hostname, the pod network,
// logs, pod files, two containers sharing the namespace, a shared pid namespace, the errors for bad
// or mismatched mappings, mode NODE as before, and nothing left behind.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "runtime/base/file_util.h"
#include "tests/integration/runtime/runtime_fixture.h"
#include "tests/support/cri_pods.h"
#include "tests/support/crispd_fixture.h"
#include "tests/support/standard_images_suite.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_images.h"

namespace crisp::test {
namespace {

namespace v1 = ::runtime::v1;
using namespace std::chrono_literals;

constexpr uint32_t kHostBase = 100000;
constexpr uint32_t kLength = 65536;

void set_userns(v1::NamespaceOption* ns, v1::NamespaceMode mode, uint32_t host_id = kHostBase,
                uint32_t length = kLength, uint32_t container_id = 0) {
  auto* userns = ns->mutable_userns_options();
  userns->set_mode(mode);
  if (mode != v1::POD) return;
  for (auto* list : {userns->mutable_uids(), userns->mutable_gids()}) {
    auto* m = list->Add();
    m->set_container_id(container_id);
    m->set_host_id(host_id);
    m->set_length(length);
  }
}

// "10.234.7.0/24" -> "10.234.7.1" (the fixture's bridge).
std::string first_host(const std::string& cidr) {
  in_addr addr{};
  EXPECT_EQ(::inet_pton(AF_INET, cidr.substr(0, cidr.find('/')).c_str(), &addr), 1) << cidr;
  addr.s_addr = htonl(ntohl(addr.s_addr) + 1);
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr, text, sizeof(text));
  return text;
}

std::string squeeze(const std::string& text) {
  std::istringstream in(text);
  std::string word, out;
  while (in >> word) out += (out.empty() ? "" : " ") + word;
  return out;
}

// The "Uid:" line of /proc/<pid>/status, squeezed ("Uid: 100000 100000 100000 100000").
std::string uid_line(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Uid:", 0) == 0) return squeeze(line);
  }
  return "";
}

// Mount points (field 5 of mountinfo) and super options of the host's mounts.
std::vector<std::pair<std::string, std::string>> host_mounts() {
  std::vector<std::pair<std::string, std::string>> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point, word;
    fields >> id >> parent >> dev >> root >> point;
    std::string super;
    bool after_dash = false;
    int n = 0;
    while (fields >> word) {
      if (word == "-") {
        after_dash = true;
        continue;
      }
      if (after_dash && ++n == 3) super = word;
    }
    out.emplace_back(point, super);
  }
  return out;
}

class UsernsTest : public StandardImagesSuite {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    CrispdOptions options;
    options.config_toml = "[runtime]\nmonitor_path = \"" + runtime::test::monitor_binary() + "\"\n";
    crispd_ = std::make_unique<CrispdFixture>(options);
    logs_ = crispd_->dir() + "/pod-logs";
    pull(crispd_->images(), images_->busybox.ref);
  }

  void TearDown() override {
    if (crispd_ && crispd_->running()) remove_all_pods(crispd_->runtime());
    crispd_.reset();
  }

  bool userns_supported() {
    v1::StatusRequest req;
    v1::StatusResponse resp;
    auto ctx = client_context();
    EXPECT_TRUE(crispd_->runtime().Status(ctx.get(), req, &resp).ok());
    return resp.runtime_handlers_size() > 0 && resp.runtime_handlers(0).features().user_namespaces();
  }

  v1::PodSandboxConfig pod_config(const std::string& name) { return crisp::test::pod_config(name, logs_); }

  grpc::Status runp(const v1::PodSandboxConfig& config, std::string* id) {
    return try_run_pod(crispd_->runtime(), config, id);
  }

  std::string runp_userns(const std::string& name, v1::NamespaceMode pid = v1::CONTAINER) {
    auto config = pod_config(name);
    auto* ns = config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
    ns->set_pid(pid);
    set_userns(ns, v1::POD);
    return run_pod(crispd_->runtime(), config);
  }

  void remove_pod(const std::string& id) { crisp::test::remove_pod(crispd_->runtime(), id); }

  // A busybox container config named `name` running `command`, changed by `customize`.
  static v1::ContainerConfig busybox(const std::string& name, const std::vector<std::string>& command,
                                     const std::function<void(v1::ContainerConfig&)>& customize) {
    auto c = container_config(name, images_->busybox.ref, command);
    customize(c);
    return c;
  }

  grpc::Status create(const std::string& pod, const std::string& name, const std::vector<std::string>& command,
                      const std::function<void(v1::ContainerConfig&)>& customize, std::string* id) {
    return try_create_container(crispd_->runtime(), pod, busybox(name, command, customize), id);
  }

  // Created with the pod's mappings (as the kubelet sends them) and started.
  std::string start_in_userns(const std::string& pod, const std::string& name, const std::vector<std::string>& command) {
    return start_container(crispd_->runtime(), pod, busybox(name, command, [](v1::ContainerConfig& c) {
      auto* ns = c.mutable_linux()->mutable_security_context()->mutable_namespace_options();
      ns->set_pid(v1::CONTAINER);
      set_userns(ns, v1::POD);
    }));
  }

  v1::ExecSyncResponse exec(const std::string& id, const std::vector<std::string>& cmd) {
    return crisp::test::exec(crispd_->runtime(), id, cmd, 10);
  }
  std::string out(const std::string& id, const std::string& script) {
    auto r = exec(id, {"sh", "-c", script});
    EXPECT_EQ(r.exit_code(), 0) << script << ": " << r.stdout() << r.stderr();
    return r.stdout();
  }

  v1::ContainerStatusResponse status_of(const std::string& id, bool verbose = false) {
    v1::ContainerStatusRequest req;
    req.set_container_id(id);
    req.set_verbose(verbose);
    v1::ContainerStatusResponse resp;
    auto ctx = client_context();
    auto status = crispd_->runtime().ContainerStatus(ctx.get(), req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return resp;
  }
  pid_t pid_of(const std::string& id) {
    return nlohmann::json::parse(status_of(id, true).info().at("info"))["pid"].get<pid_t>();
  }
  v1::PodSandboxStatusResponse pod_status(const std::string& id, bool verbose = false) {
    return crisp::test::pod_status(crispd_->runtime(), id, verbose);
  }
  v1::ContainerStatus wait_exited(const std::string& id) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    for (;;) {
      auto s = status_of(id).status();
      if (s.state() == v1::CONTAINER_EXITED || std::chrono::steady_clock::now() > deadline) return s;
      std::this_thread::sleep_for(20ms);
    }
  }

  // The overlay upper dir of a container's rootfs, from the host's mount table.
  std::string upper_dir_of(const std::string& container_id) {
    std::string rootfs = crispd_->state() + "/containers/" + container_id + "/rootfs";
    for (const auto& [point, super] : host_mounts()) {
      if (point != rootfs) continue;
      auto pos = super.find("upperdir=");
      if (pos == std::string::npos) continue;
      auto end = super.find(',', pos);
      return super.substr(pos + 9, end == std::string::npos ? std::string::npos : end - pos - 9);
    }
    return "";
  }

  std::unique_ptr<CrispdFixture> crispd_;
  std::string logs_;
};


TEST_F(UsernsTest, PodUserNamespaceMapsRootAndOwnership) {
  if (!userns_supported()) GTEST_SKIP() << "the runtime reports no user namespace support on this kernel";
  std::string pod = runp_userns("userns-pod");
  ASSERT_FALSE(pod.empty());
  auto ps = pod_status(pod).status();
  const auto& reported = ps.linux().namespaces().options().userns_options();
  EXPECT_EQ(reported.mode(), v1::POD);
  ASSERT_EQ(reported.uids_size(), 1);
  EXPECT_EQ(reported.uids(0).host_id(), kHostBase);

  std::string main = start_in_userns(pod, "main", {"sleep", "3600"});
  EXPECT_EQ(squeeze(out(main, "cat /proc/self/uid_map")), "0 100000 65536");
  EXPECT_EQ(squeeze(out(main, "cat /proc/self/gid_map")), "0 100000 65536");
  EXPECT_EQ(out(main, "id -u; id -g"), "0\n0\n");
  // Image files (owned by host root on disk) are root's inside.
  EXPECT_EQ(out(main, "stat -c '%u:%g' /bin/busybox /etc/passwd /"), "0:0\n0:0\n0:0\n");
  // The app user of the image keeps its id too.
  EXPECT_EQ(out(main, "stat -c '%u:%g' /home/app"), "1000:1000\n");
  // Pod files and /dev/shm: root's, usable.
  EXPECT_EQ(out(main, "stat -c %u /etc/hosts /etc/resolv.conf /etc/hostname /dev/shm"), "0\n0\n0\n0\n");
  EXPECT_EQ(out(main, "echo shared > /dev/shm/x && stat -c %u /dev/shm/x && cat /etc/hostname"), "0\nuserns-pod\n");
  EXPECT_EQ(out(main, "hostname"), "userns-pod\n");

  // What the container writes lands in its upper dir with host ids; the image stays untouched.
  EXPECT_EQ(out(main, "echo data > /created && mkdir /made && touch /home/app/x && chown 1000:1000 /home/app/x && "
                      "stat -c '%u:%g' /created /made /home/app/x"),
            "0:0\n0:0\n1000:1000\n");
  std::string upper = upper_dir_of(main);
  ASSERT_FALSE(upper.empty()) << "no overlay with an upperdir at the container's rootfs";
  struct stat st {};
  ASSERT_EQ(::stat((upper + "/created").c_str(), &st), 0) << upper;
  EXPECT_EQ(st.st_uid, kHostBase);
  EXPECT_EQ(st.st_gid, kHostBase);
  ASSERT_EQ(::stat((upper + "/made").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kHostBase);
  ASSERT_EQ(::stat((upper + "/home/app/x").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kHostBase + 1000);
  EXPECT_NE(::access((upper + "/bin/busybox").c_str(), F_OK), 0) << "reading must not copy image files up";

  // On the host the container's process is the pod's root: host uid 100000.
  pid_t pid = pid_of(main);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(uid_line(pid), "Uid: 100000 100000 100000 100000");
  // crispd still manages the container's cgroup from the host: the process is in it, and a limit
  // update lands in its files (owned by host root, which the pod's root is not).
  std::string spec = nlohmann::json::parse(status_of(main, true).info().at("info"))["spec"].get<std::string>();
  std::string memory_procs;
  std::istringstream spec_lines(spec);
  for (std::string line; std::getline(spec_lines, line);) {
    if (line.rfind("cgroup_procs ", 0) == 0 && line.find("/memory/") != std::string::npos) memory_procs = line.substr(13);
  }
  ASSERT_FALSE(memory_procs.empty()) << spec;
  std::string memory_dir = memory_procs.substr(0, memory_procs.rfind('/'));
  EXPECT_NE(read_file(memory_procs).find(std::to_string(pid_of(main))), std::string::npos);
  v1::UpdateContainerResourcesRequest update;
  update.set_container_id(main);
  update.mutable_linux()->set_memory_limit_in_bytes(256 << 20);
  v1::UpdateContainerResourcesResponse update_resp;
  auto update_ctx = client_context();
  auto update_status = crispd_->runtime().UpdateContainerResources(update_ctx.get(), update, &update_resp);
  EXPECT_TRUE(update_status.ok()) << update_status.error_message();
  EXPECT_EQ(read_file(memory_dir + "/memory.limit_in_bytes"), std::to_string(256 << 20) + "\n");
  struct stat cg {};
  ASSERT_EQ(::stat((memory_dir + "/memory.limit_in_bytes").c_str(), &cg), 0);
  EXPECT_EQ(cg.st_uid, 0u);
  EXPECT_EQ(cg.st_mode & 0002, 0u);

  // The pod network: eth0 with the pod's IP, the bridge answers.
  std::string ip = ps.network().ip();
  ASSERT_FALSE(ip.empty());
  EXPECT_NE(out(main, "ip -4 addr show eth0").find(ip + "/"), std::string::npos);
  auto ping = exec(main, {"ping", "-c1", "-W2", first_host(crispd_->pod_cidr())});
  EXPECT_EQ(ping.exit_code(), 0) << ping.stdout() << ping.stderr();
  // Root of the pod, given CAP_NET_ADMIN (which then counts only in namespaces its user namespace
  // owns), configures the pod's network namespace.
  std::string admin;
  auto admin_status = create(pod, "netadmin", {"sh", "-c", "ip addr add 192.0.2.7/32 dev lo && ip -4 addr show lo"},
                             [](v1::ContainerConfig& c) {
                               auto* sc = c.mutable_linux()->mutable_security_context();
                               sc->mutable_namespace_options()->set_pid(v1::CONTAINER);
                               set_userns(sc->mutable_namespace_options(), v1::POD);
                               sc->mutable_capabilities()->add_add_capabilities("NET_ADMIN");
                             }, &admin);
  ASSERT_TRUE(admin_status.ok()) << admin_status.error_message();
  {
    ASSERT_TRUE(try_start_container(crispd_->runtime(), admin).ok());
    auto s = wait_exited(admin);
    EXPECT_EQ(s.exit_code(), 0) << runtime::test::log_text(runtime::test::read_cri_log(s.log_path()));
  }
  EXPECT_NE(out(main, "ip -4 addr show lo").find("192.0.2.7/32"), std::string::npos);

  // A second container shares the pod's user namespace; logs work.
  std::string second = start_in_userns(pod, "second", {"sh", "-c", "echo logged-$(id -u); cat /dev/shm/x"});
  auto done = wait_exited(second);
  EXPECT_EQ(done.exit_code(), 0) << done.message();
  EXPECT_EQ(runtime::test::log_text(runtime::test::read_cri_log(done.log_path())), "logged-0\nshared\n");
  std::string third = start_in_userns(pod, "third", {"sleep", "3600"});
  std::string ns_main = out(main, "readlink /proc/self/ns/user");
  EXPECT_EQ(out(third, "readlink /proc/self/ns/user"), ns_main);
  char host_ns[128] = {};
  ASSERT_GT(::readlink("/proc/self/ns/user", host_ns, sizeof(host_ns) - 1), 0);
  EXPECT_NE(ns_main, std::string(host_ns) + "\n");
  pid_t third_pid = pid_of(third);

  // Removal leaves no process, mount or directory of the pod.
  std::string sandbox_dir = crispd_->state() + "/sandboxes/" + pod;
  remove_pod(pod);
  for (pid_t p : {pid, third_pid}) EXPECT_NE(::access(("/proc/" + std::to_string(p)).c_str(), F_OK), 0);
  for (const auto& [point, super] : host_mounts()) {
    EXPECT_EQ(point.find(pod), std::string::npos) << "left mounted: " << point;
    EXPECT_EQ(point.find(main), std::string::npos) << "left mounted: " << point;
  }
  EXPECT_NE(::access(sandbox_dir.c_str(), F_OK), 0);
  EXPECT_NE(::access(("/sys/fs/cgroup/pids/crisp/" + pod).c_str(), F_OK), 0);
}

TEST_F(UsernsTest, SharedPidNamespaceInsideTheUserNamespace) {
  if (!userns_supported()) GTEST_SKIP() << "the runtime reports no user namespace support on this kernel";
  std::string pod = runp_userns("userns-pid", v1::POD);
  ASSERT_FALSE(pod.empty());
  auto start_pid_pod = [&](const std::string& name, const std::vector<std::string>& command) {
    return start_container(crispd_->runtime(), pod, busybox(name, command, [](v1::ContainerConfig& c) {
      auto* ns = c.mutable_linux()->mutable_security_context()->mutable_namespace_options();
      ns->set_pid(v1::POD);
      set_userns(ns, v1::POD);
    }));
  };
  std::string a = start_pid_pod("a", {"sleep", "3600"});
  std::string b = start_pid_pod("b", {"sleep", "3601"});
  std::string ps = out(b, "ps -o pid,user,args");
  EXPECT_NE(ps.find("sleep 3600"), std::string::npos) << ps;
  EXPECT_NE(ps.find("sleep 3601"), std::string::npos) << ps;
  EXPECT_EQ(squeeze(out(a, "cat /proc/1/uid_map")), "0 100000 65536") << "pid 1 (pod-init) is in the pod's user namespace";
  auto info = nlohmann::json::parse(pod_status(pod, true).info().at("info"));
  pid_t init = info["podInitPid"].get<pid_t>();
  ASSERT_GT(init, 0);
  EXPECT_EQ(uid_line(init), "Uid: 100000 100000 100000 100000");
  EXPECT_EQ(uid_line(pid_of(a)), "Uid: 100000 100000 100000 100000");
}

TEST_F(UsernsTest, BadMappingsAreInvalidArgument) {
  struct Case {
    std::string what;
    std::function<void(v1::UserNamespace&)> mutate;
  };
  const std::vector<Case> cases = {
      {"no uid mapping", [](v1::UserNamespace& u) { u.clear_uids(); }},
      {"no gid mapping", [](v1::UserNamespace& u) { u.clear_gids(); }},
      {"length 0", [](v1::UserNamespace& u) { u.mutable_uids(0)->set_length(0); }},
      {"host overflow", [](v1::UserNamespace& u) { u.mutable_gids(0)->set_host_id(4294967000u); }},
      {"root unmapped", [](v1::UserNamespace& u) { u.mutable_uids(0)->set_container_id(1); }},
      {"overlap", [](v1::UserNamespace& u) { *u.add_uids() = u.uids(0); }},
      {"mode TARGET", [](v1::UserNamespace& u) { u.set_mode(v1::TARGET); }},
  };
  for (const auto& c : cases) {
    auto config = pod_config("bad");
    auto* ns = config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
    set_userns(ns, v1::POD);
    c.mutate(*ns->mutable_userns_options());
    std::string id;
    auto status = runp(config, &id);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.what << ": " << status.error_message();
  }
  auto host_net = pod_config("bad-hostnet");
  auto* ns = host_net.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns->set_network(v1::NODE);
  set_userns(ns, v1::POD);
  std::string id;
  auto status = runp(host_net, &id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  // Nothing of the refused pods is left.
  v1::ListPodSandboxResponse pods;
  auto ctx = client_context();
  ASSERT_TRUE(crispd_->runtime().ListPodSandbox(ctx.get(), {}, &pods).ok());
  EXPECT_EQ(pods.items_size(), 0);
}

TEST_F(UsernsTest, ContainerMustUseThePodsUserNamespace) {
  // A container asking for POD mode in a pod without a user namespace.
  std::string plain;
  ASSERT_TRUE(runp(pod_config("plain"), &plain).ok());
  std::string id;
  auto status = create(plain, "c", {"true"}, [](v1::ContainerConfig& c) {
    set_userns(c.mutable_linux()->mutable_security_context()->mutable_namespace_options(), v1::POD);
  }, &id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  status = create(plain, "m", {"true"}, [](v1::ContainerConfig& c) {
    auto* m = c.add_mounts();
    m->set_container_path("/data");
    m->set_host_path("/tmp");
    auto* map = m->add_uidmappings();
    map->set_host_id(kHostBase);
    map->set_length(kLength);
  }, &id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();

  if (!userns_supported()) GTEST_SKIP() << "the runtime reports no user namespace support on this kernel";
  std::string pod = runp_userns("userns-mismatch");
  status = create(pod, "other-map", {"true"}, [](v1::ContainerConfig& c) {
    set_userns(c.mutable_linux()->mutable_security_context()->mutable_namespace_options(), v1::POD, 200000);
  }, &id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  status = create(pod, "node", {"true"}, [](v1::ContainerConfig& c) {
    set_userns(c.mutable_linux()->mutable_security_context()->mutable_namespace_options(), v1::NODE);
  }, &id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  // Without userns options a container follows its pod.
  status = create(pod, "implicit", {"sh", "-c", "cat /proc/self/uid_map"}, [](v1::ContainerConfig& c) {
    c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  }, &id);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(try_start_container(crispd_->runtime(), id).ok());
  auto done = wait_exited(id);
  EXPECT_EQ(squeeze(runtime::test::log_text(runtime::test::read_cri_log(done.log_path()))), "0 100000 65536");
}

TEST_F(UsernsTest, VolumesWithMappingsAreIdmappedAndRestartKeepsThePod) {
  if (!userns_supported()) GTEST_SKIP() << "the runtime reports no user namespace support on this kernel";
  // A host directory the pod's root could not even reach (the fixture dir is crispd's, 0700).
  std::string volume = crispd_->dir() + "/volume";
  make_dirs(volume, 0755);
  atomic_write_file(volume + "/from-host", "x");
  std::string pod = runp_userns("userns-volumes");
  auto with_mounts = [](v1::ContainerConfig& c, const std::string& host_path, bool mapped) {
    auto* ns = c.mutable_linux()->mutable_security_context()->mutable_namespace_options();
    ns->set_pid(v1::CONTAINER);
    set_userns(ns, v1::POD);
    auto* m = c.add_mounts();
    m->set_container_path("/mapped");
    m->set_host_path(host_path);
    if (mapped) {
      for (auto* list : {m->mutable_uidmappings(), m->mutable_gidmappings()}) {
        auto* map = list->Add();
        map->set_host_id(kHostBase);
        map->set_length(kLength);
      }
    }
    auto* plain = c.add_mounts();
    plain->set_container_path("/plain");
    plain->set_host_path(host_path);
  };
  std::string id;
  auto status = create(pod, "volumes", {"sleep", "3600"}, [&](v1::ContainerConfig& c) { with_mounts(c, volume, true); }, &id);
  ASSERT_TRUE(status.ok()) << status.error_message();
  status = try_start_container(crispd_->runtime(), id);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // Idmapped: host root's file is root's inside, and root's writes are host root's on disk.
  EXPECT_EQ(out(id, "stat -c %u /mapped/from-host && touch /mapped/from-pod && stat -c %u /mapped/from-pod"), "0\n0\n");
  struct stat st {};
  ASSERT_EQ(::stat((volume + "/from-pod").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  // Not idmapped: the host's root is nobody inside (unmapped), and the pod's root may not write.
  EXPECT_EQ(out(id, "stat -c %u /plain/from-host"), "65534\n");
  EXPECT_NE(exec(id, {"touch", "/plain/denied"}).exit_code(), 0);

  // A filesystem that cannot be idmapped (sysfs): CreateContainer fails, naming it.
  status = create(pod, "sysfs", {"true"}, [&](v1::ContainerConfig& c) { with_mounts(c, "/sys/kernel", true); }, &id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_NE(status.error_message().find("idmapped mount"), std::string::npos) << status.error_message();

  // After a crash of crispd, a new container of the pod still gets the pod's user namespace.
  crispd_->kill9();
  crispd_->start();
  std::string after = start_in_userns(pod, "after-restart", {"sleep", "3600"});
  EXPECT_EQ(squeeze(out(after, "cat /proc/self/uid_map")), "0 100000 65536");
  EXPECT_EQ(uid_line(pid_of(after)), "Uid: 100000 100000 100000 100000");
  status = create(pod, "other-after-restart", {"true"}, [](v1::ContainerConfig& c) {
    set_userns(c.mutable_linux()->mutable_security_context()->mutable_namespace_options(), v1::POD, 300000);
  }, &id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
}

TEST_F(UsernsTest, NodeModeIsTheHostsUserNamespace) {
  auto config = pod_config("userns-node");
  set_userns(config.mutable_linux()->mutable_security_context()->mutable_namespace_options(), v1::NODE);
  std::string pod;
  ASSERT_TRUE(runp(config, &pod).ok());
  std::string id;
  auto status = create(pod, "c", {"sleep", "3600"}, [](v1::ContainerConfig& c) {
    set_userns(c.mutable_linux()->mutable_security_context()->mutable_namespace_options(), v1::NODE);
  }, &id);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(try_start_container(crispd_->runtime(), id).ok());
  EXPECT_EQ(squeeze(out(id, "cat /proc/self/uid_map")), "0 0 4294967295");
  EXPECT_EQ(uid_line(pid_of(id)), "Uid: 0 0 0 0");
}

}  // namespace
}  // namespace crisp::test
