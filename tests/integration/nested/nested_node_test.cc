// crispd the way a kind node runs it: the child of PID 1 in fresh mount, pid, uts, ipc, net and
// cgroup namespaces, with a private /run and /var/lib, its own sysfs and cgroupfs mounts showing the
// namespace's cgroup view, and no registry: the image is side-loaded with `crisp images import`.
// A pod with built-in networking runs there; afterwards nothing of it is left on the host (links,
// mounts, processes, cgroups). Traffic goes only to the pod and the node bridge inside the
// namespace the test made.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "tests/support/crispd_fixture.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_images.h"

namespace crisp::test {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::runtime::v1;
using namespace std::chrono_literals;

// Runs argv, returns (exit code, stdout+stderr).
std::pair<int, std::string> run(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const auto& a : argv) cmd += "'" + a + "' ";
  cmd += "2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = ::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::set<std::string> host_links() {
  std::set<std::string> links;
  for (const auto& e : fs::directory_iterator("/sys/class/net")) links.insert(e.path().filename());
  return links;
}

std::vector<std::string> mounts_mentioning(const std::string& needle) {
  std::vector<std::string> found;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) found.push_back(line);
  return found;
}

// The host's cgroup hierarchies: mount points of cgroup and cgroup2 filesystems.
std::vector<std::string> cgroup_mounts() {
  std::vector<std::string> mounts;
  std::ifstream in("/proc/self/mounts");
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string source, target, type;
    fields >> source >> target >> type;
    if (type == "cgroup" || type == "cgroup2") mounts.push_back(target);
  }
  return mounts;
}

std::string link_target(const std::string& path) {
  std::error_code ec;
  fs::path target = fs::read_symlink(path, ec);
  return ec ? "" : target.string();
}

// Removes a cgroup tree deepest first (retrying while its last processes exit).
bool remove_cgroup_tree(const fs::path& top) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::error_code ec;
    if (!fs::exists(top, ec)) return true;
    std::vector<fs::path> dirs;
    for (auto it = fs::recursive_directory_iterator(top, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
      if (it->is_directory(ec) && !it->is_symlink(ec)) dirs.push_back(it->path());
    dirs.push_back(top);
    std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
      return a.string().size() > b.string().size();
    });
    for (const auto& d : dirs) ::rmdir(d.c_str());
    std::this_thread::sleep_for(50ms);
  }
  return !fs::exists(top);
}

// The node: `unshare` (the test's child) forks PID 1 of the new namespaces, a shell that mounts
// the node's filesystems and runs crispd as its child.
class NestedNode {
 public:
  NestedNode(const std::string& dir, const std::string& tag) : dir_(dir), cgroup_name_("crisp-nested-" + tag) {
    make_dirs(dir_ + "/var-lib", 0755);
    write_scripts();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl("/bin/sh", "sh", (dir_ + "/enter.sh").c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // PID 1 of the node is unshare's child in another pid namespace (before the exec of unshare,
    // the script's children are the commands it runs).
    std::string own_pidns = link_target("/proc/self/ns/pid");
    for (int i = 0; i < 500 && pid1_ <= 0; ++i) {
      std::ifstream children("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) + "/children");
      pid_t child = -1;
      children >> child;
      std::string ns = child > 0 ? link_target("/proc/" + std::to_string(child) + "/ns/pid") : "";
      if (!ns.empty() && ns != own_pidns) pid1_ = child;
      else std::this_thread::sleep_for(10ms);
    }
  }

  ~NestedNode() { destroy(); }

  // Kills the node's PID 1 (the kernel then kills every process of its pid namespace and drops the
  // namespaces), reaps unshare and removes the node's cgroups on the host.
  void destroy() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);  // unshare --kill-child: PID 1 gets SIGKILL too
      if (pid1_ > 0) ::kill(pid1_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      for (int i = 0; i < 200 && pid1_ > 0 && ::kill(pid1_, 0) == 0; ++i) std::this_thread::sleep_for(20ms);
    }
    for (const auto& mount : host_cgroup_mounts_) cgroups_removed_ &= remove_cgroup_tree(mount + "/" + cgroup_name_);
    host_cgroup_mounts_.clear();
  }

  pid_t pid1() const { return pid1_; }
  // The node's CRI socket, reached from the host through PID 1's root.
  std::string socket() const { return "/proc/" + std::to_string(pid1_) + "/root/run/crisp/crisp.sock"; }
  std::string log() const { return read_file_if_exists(dir_ + "/crispd.log").value_or(""); }
  const std::string& cgroup_name() const { return cgroup_name_; }
  const std::vector<std::string>& host_cgroup_mounts() const { return host_cgroup_mounts_; }
  bool cgroups_removed() const { return cgroups_removed_; }

 private:
  void write_scripts() {
    host_cgroup_mounts_ = cgroup_mounts();
    // Outside: put the node in a cgroup of its own in every hierarchy (it becomes the root of the
    // node's cgroup namespace), then enter the new namespaces.
    std::string enter = "set -e\n";
    for (const auto& mount : host_cgroup_mounts_) {
      enter += "mkdir -p '" + mount + "/" + cgroup_name_ + "'\n";
      // A new cpuset cgroup takes no task until it has cpus and mems.
      for (const char* file : {"cpuset.cpus", "cpuset.mems"})
        enter += "[ ! -f '" + mount + "/" + file + "' ] || cat '" + mount + "/" + file + "' > '" + mount + "/" +
                 cgroup_name_ + "/" + file + "'\n";
      enter += "echo $$ > '" + mount + "/" + cgroup_name_ + "/cgroup.procs'\n";
    }
    enter += "exec unshare --mount --pid --fork --uts --ipc --net --cgroup --propagation private --kill-child "
             "--mount-proc /bin/sh '" + dir_ + "/node.sh'\n";
    atomic_write_file(dir_ + "/enter.sh", enter, 0755);

    // Inside, as PID 1: the node's hostname, sysfs of its netns, cgroupfs of its cgroup namespace
    // (the same hierarchies and symlinks as the host), private /run and /var/lib; crispd as a child.
    std::string node = "set -e\nhostname crisp-node\n";
    node += "cgroups=$(awk '$3==\"cgroup\"||$3==\"cgroup2\"{print $2\" \"$3\" \"$4}' /proc/self/mounts)\n";
    node += "links=$(for l in /sys/fs/cgroup/*; do [ -L \"$l\" ] && echo \"${l##*/} $(readlink \"$l\")\"; done || true)\n";
    node += "mount -t sysfs sysfs /sys\n";
    node += "mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup\n";
    node += "echo \"$cgroups\" | while read -r mp type opts; do mkdir -p \"$mp\"; mount -t \"$type\" -o \"$opts\" \"$type\" \"$mp\"; done\n";
    node += "echo \"$links\" | while read -r name target; do if [ -n \"$name\" ]; then ln -s \"$target\" \"/sys/fs/cgroup/$name\"; fi; done\n";
    node += "mount -t tmpfs -o mode=755 run /run\n";
    node += "mount --bind '" + dir_ + "/var-lib' /var/lib\n";
    node += "ip link set lo up\n";
    node += "'" + build_path("crispd") + "' --network-mode builtin --log-level debug > '" + dir_ +
            "/crispd.log' 2>&1 &\n";
    node += "wait $!\n";
    atomic_write_file(dir_ + "/node.sh", node, 0755);
  }

  std::string dir_;
  std::string cgroup_name_;
  std::vector<std::string> host_cgroup_mounts_;
  pid_t pid_ = -1;
  pid_t pid1_ = -1;
  bool cgroups_removed_ = true;
};

class NestedNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    dir_ = fs::temp_directory_path() / ("crisp-nested-" + random_hex(6));
    make_dirs(dir_, 0700);
  }
  void TearDown() override {
    if (!dir_.empty()) {
      unmount_under(dir_);
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }
  std::string dir_;
};

TEST_F(NestedNodeTest, CrispdRunsAPodInsideFreshNamespacesAndLeavesNothingOnTheHost) {
  // The image to side-load, exported from a crispd on the host that pulled it from a local registry.
  std::string archive = dir_ + "/busybox.tar";
  std::string image_ref;
  {
    RegistryFixture registry;
    StandardImages images = push_standard_images(registry);
    image_ref = images.busybox.ref;
    CrispdFixture host;
    v1::PullImageRequest pull;
    pull.mutable_image()->set_image(image_ref);
    v1::PullImageResponse pulled;
    auto ctx = client_context(60s);
    auto status = host.images().PullImage(ctx.get(), pull, &pulled);
    ASSERT_TRUE(status.ok()) << status.error_message();
    auto [code, out] = run({build_path("crisp"), "--socket", host.socket(), "images", "export", image_ref, "-o", archive});
    ASSERT_EQ(code, 0) << out;
  }

  std::set<std::string> links_before = host_links();
  std::string tag = random_hex(4);
  auto node = std::make_unique<NestedNode>(dir_ + "/node", tag);
  ASSERT_GT(node->pid1(), 0);

  // crispd serves inside the node.
  auto channel = grpc::CreateChannel("unix://" + node->socket(), grpc::InsecureChannelCredentials());
  auto runtime = v1::RuntimeService::NewStub(channel);
  bool up = false;
  for (int i = 0; i < 300 && !up; ++i) {
    v1::VersionResponse version;
    auto ctx = client_context(1s);
    up = runtime->Version(ctx.get(), {}, &version).ok();
    if (!up) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(up) << node->log();

  // Side-load the image: no registry is reachable from the node's network namespace.
  auto [code, out] = run({build_path("crisp"), "--socket", node->socket(), "images", "import", archive});
  ASSERT_EQ(code, 0) << out << node->log();

  // A pod with networking, and a container in it.
  v1::RunPodSandboxRequest runp;
  auto* pc = runp.mutable_config();
  pc->mutable_metadata()->set_name("nested");
  pc->mutable_metadata()->set_uid("uid-nested");
  pc->mutable_metadata()->set_namespace_("default");
  pc->set_hostname("nested-pod");
  v1::RunPodSandboxResponse pod;
  auto ctx = client_context();
  auto status = runtime->RunPodSandbox(ctx.get(), runp, &pod);
  ASSERT_TRUE(status.ok()) << status.error_message() << node->log();

  v1::CreateContainerRequest create;
  create.set_pod_sandbox_id(pod.pod_sandbox_id());
  create.mutable_config()->mutable_metadata()->set_name("sleeper");
  create.mutable_config()->mutable_image()->set_image(image_ref);
  create.mutable_config()->add_command("sleep");
  create.mutable_config()->add_command("600");
  *create.mutable_sandbox_config() = runp.config();
  v1::CreateContainerResponse created;
  ctx = client_context();
  status = runtime->CreateContainer(ctx.get(), create, &created);
  ASSERT_TRUE(status.ok()) << status.error_message() << node->log();
  v1::StartContainerRequest start;
  start.set_container_id(created.container_id());
  v1::StartContainerResponse started;
  ctx = client_context();
  status = runtime->StartContainer(ctx.get(), start, &started);
  ASSERT_TRUE(status.ok()) << status.error_message() << node->log();

  // The pod has an address on the node's bridge and reaches the bridge.
  v1::PodSandboxStatusRequest status_req;
  status_req.set_pod_sandbox_id(pod.pod_sandbox_id());
  v1::PodSandboxStatusResponse pod_status;
  ctx = client_context();
  ASSERT_TRUE(runtime->PodSandboxStatus(ctx.get(), status_req, &pod_status).ok());
  std::string ip = pod_status.status().network().ip();
  EXPECT_EQ(ip.rfind("10.88.", 0), 0u) << ip;
  auto exec = [&](const std::vector<std::string>& cmd) {
    v1::ExecSyncRequest req;
    req.set_container_id(created.container_id());
    for (const auto& a : cmd) req.add_cmd(a);
    req.set_timeout(10);
    v1::ExecSyncResponse resp;
    auto c = client_context();
    auto s = runtime->ExecSync(c.get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  };
  auto ping = exec({"ping", "-c", "1", "-W", "3", "10.88.0.1"});
  EXPECT_EQ(ping.exit_code(), 0) << ping.stdout() << ping.stderr();
  EXPECT_EQ(exec({"hostname"}).stdout(), "nested-pod\n");

  // Its cgroups are below the node's cgroup-namespace root, i.e. below the node's cgroup on the host.
  bool found_pod_cgroup = false;
  for (const auto& mount : node->host_cgroup_mounts()) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(mount + "/" + node->cgroup_name(), ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->path().filename() == pod.pod_sandbox_id()) found_pod_cgroup = true;
  }
  EXPECT_TRUE(found_pod_cgroup) << "no cgroup named after the pod below " << node->cgroup_name();
  // And the node's links are not the host's.
  EXPECT_EQ(host_links(), links_before);

  // Stop and remove the pod the way the kubelet would, then tear the node down.
  v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(pod.pod_sandbox_id());
  v1::StopPodSandboxResponse stopped;
  ctx = client_context();
  EXPECT_TRUE(runtime->StopPodSandbox(ctx.get(), stop, &stopped).ok());
  v1::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(pod.pod_sandbox_id());
  v1::RemovePodSandboxResponse removed;
  ctx = client_context();
  EXPECT_TRUE(runtime->RemovePodSandbox(ctx.get(), remove, &removed).ok());
  runtime.reset();
  channel.reset();
  pid_t pid1 = node->pid1();
  node->destroy();
  EXPECT_TRUE(node->cgroups_removed());

  // Nothing of the node is left on the host.
  EXPECT_NE(::kill(pid1, 0), 0) << "the node's PID 1 survived";
  EXPECT_EQ(host_links(), links_before);
  EXPECT_TRUE(mounts_mentioning(dir_).empty());
  for (const auto& mount : node->host_cgroup_mounts()) EXPECT_FALSE(fs::exists(mount + "/" + node->cgroup_name()));
}

}  // namespace
}  // namespace crisp::test
