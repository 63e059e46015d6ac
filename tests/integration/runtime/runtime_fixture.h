#pragma once
// A crisp::runtime::Runtime on a temporary root/state dir (under /run, short enough for unix
// socket paths), with a busybox rootfs built from the host's static /bin/busybox and mounted as the
// lower dir of one overlay per container. TearDown removes every sandbox, kills whatever is left,
// unmounts everything under the temp dir and removes it, pass or fail.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/runtime.h"

namespace crisp::runtime::test {

struct LogLine {
  std::string time;
  std::string stream;
  char tag = 'F';
  std::string text;
};

// Parses a CRI log file.
std::vector<LogLine> read_cri_log(const std::string& path);
// Joins the full (F-terminated) lines of one stream ("" = both).
std::string log_text(const std::vector<LogLine>& lines, const std::string& stream = "");

// $CRISP_MONITOR, else crisp-monitor of the build dir.
std::string monitor_binary();

// Waits until the file contains `needle`.
bool wait_file_contains(const std::string& path, const std::string& needle,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Counts of what a pod may leak.
struct ResourceCounts {
  size_t mounts = 0;
  size_t state_entries = 0;  // files and directories under root + state
  size_t processes = 0;
  bool operator==(const ResourceCounts&) const = default;
};

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Destroys the Runtime object (as a crash would: containers keep running) and makes a new one
  // on the same dirs, recovered.
  void restart_runtime();

  SandboxConfig sandbox_config(const std::string& name);
  ContainerConfig container_config(const std::string& name, std::vector<std::string> command);
  // Prepares an overlay rootfs (fresh upper dir) over the busybox lower dir.
  RootfsMount prepare_rootfs();
  ImageConfig busybox_image() const;

  std::string create(const std::string& sandbox_id, const ContainerConfig& config);
  std::string create_and_start(const std::string& sandbox_id, const ContainerConfig& config);
  // Waits until the container exited; returns its status.
  ContainerInfo wait_exited(const std::string& id, std::chrono::seconds timeout = std::chrono::seconds(20));
  // Waits until the log file contains `needle`.
  bool wait_log_contains(const std::string& path, const std::string& needle,
                         std::chrono::seconds timeout = std::chrono::seconds(10));

  ResourceCounts resource_counts() const;

  std::string dir_;
  std::string root_;
  std::string state_;
  std::string logs_;
  std::string lower_;
  std::unique_ptr<Runtime> runtime_;
  std::mutex released_mu_;  // guards released_
  std::vector<std::string> released_;
  int next_snapshot_ = 0;
};

}  // namespace crisp::runtime::test
