#include "tests/integration/runtime/runtime_fixture.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "runtime/base/file_util.h"

namespace crisp::runtime::test {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> mounts_under(const std::string& prefix) {
  std::vector<std::string> points;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point.rfind(prefix, 0) == 0) points.push_back(point);
  }
  return points;
}

std::vector<pid_t> processes_under(const std::string& dir, const std::string& monitor) {
  std::vector<pid_t> pids;
  DIR* d = ::opendir("/proc");
  while (auto* e = ::readdir(d)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0 || pid == ::getpid()) continue;
    std::string base = "/proc/" + std::to_string(pid);
    std::error_code ec;
    auto root = fs::read_symlink(base + "/root", ec);
    auto exe = fs::read_symlink(base + "/exe", ec);
    auto cmdline = read_file_if_exists(base + "/cmdline").value_or("");
    if ((!root.empty() && root.string().rfind(dir, 0) == 0) || cmdline.find(dir) != std::string::npos ||
        (!exe.empty() && exe.string() == monitor)) {
      pids.push_back(pid);
    }
  }
  ::closedir(d);
  return pids;
}

size_t count_entries(const std::string& path) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    ++n;
  }
  return n;
}

void build_busybox_rootfs(const std::string& lower) {
  for (const char* d : {"bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/app", "work"}) {
    make_dirs(lower + "/" + d, 0755);
  }
  ::chmod((lower + "/tmp").c_str(), 01777);
  ::chown((lower + "/home/app").c_str(), 1000, 1000);
  fs::copy_file("/bin/busybox", lower + "/bin/busybox");
  ::chmod((lower + "/bin/busybox").c_str(), 0755);
  FILE* list = ::popen("/bin/busybox --list", "r");
  char name[128];
  while (list && std::fgets(name, sizeof(name), list)) {
    std::string applet(name);
    while (!applet.empty() && (applet.back() == '\n')) applet.pop_back();
    if (applet.empty() || applet == "busybox") continue;
    ::link((lower + "/bin/busybox").c_str(), (lower + "/bin/" + applet).c_str());
  }
  if (list) ::pclose(list);
  atomic_write_file(lower + "/etc/passwd",
                    "root:x:0:0:root:/root:/bin/sh\n"
                    "app:x:1000:1000:app:/home/app:/bin/sh\n"
                    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  atomic_write_file(lower + "/etc/group",
                    "root:x:0:\n"
                    "app:x:1000:\n"
                    "extra:x:2000:app\n"
                    "nogroup:x:65534:\n");
}

}  // namespace

std::vector<LogLine> read_cri_log(const std::string& path) {
  std::vector<LogLine> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    LogLine l;
    auto s1 = line.find(' ');
    auto s2 = line.find(' ', s1 + 1);
    auto s3 = line.find(' ', s2 + 1);
    if (s1 == std::string::npos || s2 == std::string::npos) continue;
    l.time = line.substr(0, s1);
    l.stream = line.substr(s1 + 1, s2 - s1 - 1);
    l.tag = line[s2 + 1];
    l.text = s3 == std::string::npos ? "" : line.substr(s3 + 1);
    lines.push_back(l);
  }
  return lines;
}

std::string log_text(const std::vector<LogLine>& lines, const std::string& stream) {
  std::string out;
  for (const auto& l : lines) {
    if (!stream.empty() && l.stream != stream) continue;
    out += l.text;
    if (l.tag == 'F') out += "\n";
  }
  return out;
}

std::string monitor_binary() {
  if (const char* explicit_path = std::getenv("CRISP_MONITOR")) return explicit_path;
  const char* build = std::getenv("CRISP_BUILD_DIR");
  std::string base = build ? build : ".";
  for (const auto& candidate : {base + "/crisp-monitor", base + "/runtime/monitor/crisp-monitor"}) {
    if (::access(candidate.c_str(), X_OK) == 0) return fs::canonical(candidate).string();
  }
  return base + "/crisp-monitor";
}

void RuntimeTest::SetUp() {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  char tmpl[] = "/run/crt-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  dir_ = tmpl;
  root_ = dir_ + "/r";
  state_ = dir_ + "/s";
  logs_ = dir_ + "/logs";
  lower_ = dir_ + "/lower";
  make_dirs(logs_);
  build_busybox_rootfs(lower_);
  restart_runtime();
}

void RuntimeTest::restart_runtime() {
  runtime_.reset();
  RuntimeOptions options;
  options.root_dir = root_;
  options.state_dir = state_;
  options.monitor_path = monitor_binary();
  options.release_rootfs = [this](const std::string& id) {
    std::lock_guard lock(released_mu_);
    released_.push_back(id);
  };
  runtime_ = std::make_unique<Runtime>(options);
  runtime_->recover();
}

void RuntimeTest::TearDown() {
  if (dir_.empty()) return;
  std::vector<pid_t> pod_inits;
  if (runtime_) {
    for (const auto& sandbox : runtime_->list_sandboxes()) {
      if (sandbox.pod_init_pid > 0) pod_inits.push_back(sandbox.pod_init_pid);
      try {
        runtime_->remove_sandbox(sandbox.id);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "remove_sandbox " << sandbox.id << ": " << e.what();
      }
    }
    runtime_.reset();
  }
  // Whatever a failed test left behind.
  for (int round = 0; round < 50; ++round) {
    auto pids = processes_under(dir_, monitor_binary());
    if (pids.empty()) break;
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto points = mounts_under(dir_);
  std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const auto& p : points) ::umount2(p.c_str(), MNT_DETACH);
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

SandboxConfig RuntimeTest::sandbox_config(const std::string& name) {
  SandboxConfig c;
  c.name = name;
  c.uid = "uid-" + name;
  c.namespace_name = "default";
  c.hostname = name;
  c.log_directory = logs_ + "/" + name;
  c.labels = {{"app", name}};
  return c;
}

ContainerConfig RuntimeTest::container_config(const std::string& name, std::vector<std::string> command) {
  ContainerConfig c;
  c.name = name;
  c.image = "busybox";
  c.image_id = "sha256:busybox";
  c.command = std::move(command);
  c.log_path = name + ".log";
  c.labels = {{"container", name}};
  return c;
}

RootfsMount RuntimeTest::prepare_rootfs() {
  std::string snap = dir_ + "/snap/" + std::to_string(next_snapshot_++);
  make_dirs(snap + "/upper");
  make_dirs(snap + "/work");
  return RootfsMount{"overlay", "overlay",
                     {"lowerdir=" + lower_, "upperdir=" + snap + "/upper", "workdir=" + snap + "/work"}};
}

ImageConfig RuntimeTest::busybox_image() const {
  ImageConfig image;
  image.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  image.cmd = {"sh"};
  return image;
}

std::string RuntimeTest::create(const std::string& sandbox_id, const ContainerConfig& config) {
  return runtime_->create_container(sandbox_id, config, busybox_image(),
                                    [this](const std::string&) { return prepare_rootfs(); });
}

std::string RuntimeTest::create_and_start(const std::string& sandbox_id, const ContainerConfig& config) {
  std::string id = create(sandbox_id, config);
  runtime_->start_container(id);
  return id;
}

ContainerInfo RuntimeTest::wait_exited(const std::string& id, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    ContainerInfo info = runtime_->container_status(id);
    if (info.state == ContainerState::kExited || std::chrono::steady_clock::now() > deadline) return info;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool RuntimeTest::wait_log_contains(const std::string& path, const std::string& needle, std::chrono::seconds timeout) {
  return wait_file_contains(path, needle, timeout);
}

bool wait_file_contains(const std::string& path, const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (read_file_if_exists(path).value_or("").find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

ResourceCounts RuntimeTest::resource_counts() const {
  ResourceCounts c;
  c.mounts = mounts_under(dir_).size();
  c.state_entries = count_entries(root_) + count_entries(state_);
  c.processes = processes_under(dir_, monitor_binary()).size();
  return c;
}

}  // namespace crisp::runtime::test
