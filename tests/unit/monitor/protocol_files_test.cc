// The pid and exit files the monitor writes, read back with crispd's readers.
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/monitor/protocol.h"

namespace crisp::monitor {
namespace {

class ProtocolFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/crisp-protocol-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { remove_tree(dir_); }
  std::string dir_;
};

TEST_F(ProtocolFilesTest, ReadsPidFile) {
  EXPECT_FALSE(read_pid_file(dir_ + "/pid").has_value());
  atomic_write_file(dir_ + "/pid",
                    "pid 123\nstart_time 456\nmonitor_pid 120\nmonitor_start_time 450\n");
  auto f = read_pid_file(dir_ + "/pid");
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->pid, 123);
  EXPECT_EQ(f->start_time, 456u);
  EXPECT_EQ(f->monitor_pid, 120);
  EXPECT_EQ(f->monitor_start_time, 450u);
}

TEST_F(ProtocolFilesTest, ReadsExitFile) {
  atomic_write_file(dir_ + "/exit",
                    "exit_code 137\nsignal 9\nstarted_at 1000\nfinished_at 2000\n");
  auto f = read_exit_file(dir_ + "/exit");
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->exit_code, 137);
  EXPECT_EQ(f->signal, 9);
  EXPECT_EQ(f->started_at_ns, 1000);
  EXPECT_EQ(f->finished_at_ns, 2000);
}

TEST_F(ProtocolFilesTest, RejectsMalformedFiles) {
  atomic_write_file(dir_ + "/exit", "signal 9\n");
  EXPECT_THROW(read_exit_file(dir_ + "/exit"), Error);
  atomic_write_file(dir_ + "/pid", "pid x\n");
  EXPECT_THROW(read_pid_file(dir_ + "/pid"), Error);
}

TEST(ProcessStartTimeTest, ReadsOwnStartTime) {
  auto t = read_process_start_time(getpid());
  ASSERT_TRUE(t.has_value());
  EXPECT_GT(*t, 0u);
}

}  // namespace
}  // namespace crisp::monitor
