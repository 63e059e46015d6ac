#pragma once
// A busybox bundle in a temp dir and helpers to run crisp-monitor on it. Every test removes
// what it made: processes (the container and its monitor) and the temp dir. Mounts are made only
// inside the container's mount namespace, so they vanish with it.
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/base/file_util.h"
#include "runtime/monitor/protocol.h"
#include "runtime/monitor/spec.h"

namespace crisp::monitor::test {

inline std::string monitor_binary() {
  const char* build = std::getenv("CRISP_BUILD_DIR");
  return std::string(build ? build : ".") + "/crisp-monitor";
}

inline bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  auto text = read_file_if_exists("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return false;
  auto paren = text->rfind(')');
  return paren != std::string::npos && paren + 2 < text->size() && (*text)[paren + 2] != 'Z';
}

template <typename Pred>
bool wait_for(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

class MonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    if (access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "needs /bin/busybox (busybox-static)";
    if (access(monitor_binary().c_str(), X_OK) != 0) GTEST_SKIP() << "crisp-monitor not built";
    char tmpl[] = "/tmp/crisp-monitor-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    bundle_ = dir_ + "/bundle";
    rootfs_ = bundle_ + "/rootfs";
    make_dirs(rootfs_ + "/bin");
    for (const char* d : {"proc", "dev", "sys", "tmp", "etc", "root"}) make_dirs(rootfs_ + "/" + d);
    std::filesystem::copy_file("/bin/busybox", rootfs_ + "/bin/busybox");
    for (const char* applet : {"sh", "echo", "cat", "sleep", "id", "hostname", "ls", "true", "tty",
                               "stty", "printf", "touch", "test", "readlink", "mount", "grep"}) {
      std::filesystem::create_symlink("busybox", rootfs_ + "/bin/" + applet);
    }
    spec_.process.args = {"true"};
    spec_.process.env = {"PATH=/bin", "HOME=/root"};
    spec_.process.no_new_privs = true;
    // Docker's default capability set.
    spec_.process.cap_bounding = spec_.process.cap_effective = spec_.process.cap_permitted =
        0xa80425fbULL;
    spec_.rootfs = rootfs_;
    spec_.pid.mode = NamespaceMode::kNew;
    spec_.ipc.mode = NamespaceMode::kNew;
    spec_.uts.mode = NamespaceMode::kNew;
    spec_.net.mode = NamespaceMode::kNew;
    spec_.hostname = "crisp-test";
    spec_.mounts = {
        {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}, ""},
        {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}, ""},
        {"/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666",
                                          "mode=0620"}, ""},
        {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}, ""},
    };
    spec_.default_devices = true;
    spec_.log_path = dir_ + "/container.log";
  }

  void TearDown() override {
    if (dir_.empty()) return;
    // Kill whatever is still running and wait for the monitors to finish.
    for (const auto& bundle : bundles_) {
      auto pid = read_pid_file(bundle + "/pid");
      if (!pid) continue;
      if (process_alive(pid->pid) && read_process_start_time(pid->pid) == pid->start_time) {
        ::kill(pid->pid, SIGKILL);
      }
      if (pid->monitor_pid > 0) wait_for([&] { return !process_alive(pid->monitor_pid); });
    }
    // Safety net: any monitor still running on a bundle of this test (found by its command
    // line, which names our unique temp dir) has its container killed, so it exits too.
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      std::string name = entry.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      auto cmdline = read_file_if_exists(entry.path().string() + "/cmdline");
      if (!cmdline || cmdline->find("crisp-monitor") == std::string::npos ||
          cmdline->find(dir_ + "/") == std::string::npos) {
        continue;
      }
      pid_t monitor = std::stoi(name);
      // One that just reported an error may still be on its way out.
      if (wait_for([&] { return !process_alive(monitor); }, std::chrono::seconds(2))) continue;
      ADD_FAILURE() << "monitor " << monitor << " was still running at the end of the test";
      auto children = read_file_if_exists(entry.path().string() + "/task/" + name + "/children");
      std::istringstream in(children.value_or(""));
      for (pid_t child; in >> child;) ::kill(child, SIGKILL);
      wait_for([&] { return !process_alive(monitor); });
    }
    for (const auto& cg : cgroups_) {
      wait_for([&] { return ::rmdir(cg.c_str()) == 0 || errno == ENOENT; });
    }
    for (pid_t p : extra_pids_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    remove_tree(dir_);
  }

  void write_spec() { atomic_write_file(bundle_ + "/" + kSpecFileName, encode_bundle_spec(spec_)); }

  StartedContainer start() { return start_bundle(bundle_, spec_); }

  // Starts another container from its own bundle dir (created; removed with dir_).
  StartedContainer start_bundle(const std::string& bundle, const BundleSpec& spec) {
    make_dirs(bundle);
    if (std::find(bundles_.begin(), bundles_.end(), bundle) == bundles_.end()) {
      bundles_.push_back(bundle);
    }
    atomic_write_file(bundle + "/" + kSpecFileName, encode_bundle_spec(spec));
    return start_container_monitor(monitor_binary(), bundle, dir_ + "/monitor.stderr",
                                   std::chrono::seconds(10));
  }

  ExitFile wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return wait_bundle_exit(bundle_, timeout);
  }
  ExitFile wait_bundle_exit(const std::string& bundle,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::optional<ExitFile> exit;
    bool done = wait_for([&] { return (exit = read_exit_file(bundle + "/exit")).has_value(); },
                         timeout);
    EXPECT_TRUE(done) << "no exit file in " << bundle;
    // The monitor exits right after writing it.
    if (auto pid = read_pid_file(bundle + "/pid")) {
      EXPECT_TRUE(wait_for([&] { return !process_alive(pid->monitor_pid); }));
    }
    return exit.value_or(ExitFile{-1, -1, 0, 0});
  }

  // The log's records as {stream, tag, text}.
  struct Record {
    std::string stream, tag, text;
  };
  std::vector<Record> log_records(const std::string& path = "") {
    std::vector<Record> out;
    auto text = read_file_if_exists(path.empty() ? spec_.log_path : path);
    if (!text) return out;
    size_t pos = 0;
    while (pos < text->size()) {
      size_t nl = text->find('\n', pos);
      std::string line = text->substr(pos, nl - pos);
      pos = nl == std::string::npos ? text->size() : nl + 1;
      // <30-char time> <stream> <tag> <text>
      EXPECT_GT(line.size(), 31u) << line;
      if (line.size() <= 31) continue;
      EXPECT_EQ(line[10], 'T');
      EXPECT_EQ(line[29], 'Z');
      size_t s1 = line.find(' ', 31);
      Record r;
      r.stream = line.substr(31, s1 - 31);
      r.tag = line.substr(s1 + 1, 1);
      r.text = line.substr(s1 + 3);
      out.push_back(r);
    }
    return out;
  }
  std::string stdout_text() {
    std::string out;
    for (const auto& r : log_records()) {
      if (r.stream == "stdout") out += r.text + (r.tag == "F" ? "\n" : "");
    }
    return out;
  }

  std::string dir_, bundle_, rootfs_;
  BundleSpec spec_;
  std::vector<std::string> bundles_;  // every bundle started (for the tear-down)
  std::vector<pid_t> extra_pids_;
  std::vector<std::string> cgroups_;  // cgroup dirs to remove once the processes are gone
};

}  // namespace crisp::monitor::test
