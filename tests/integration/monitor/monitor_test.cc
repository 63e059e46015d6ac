// crisp-monitor end to end: a busybox container run through `crisp-monitor run`, its CRI log,
// exit and pid files, control socket, exec and attach.
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <sstream>

#include "runtime/base/error.h"
#include "runtime/base/unique_fd.h"
#include "tests/integration/monitor/monitor_fixture.h"

namespace crisp::monitor::test {
namespace {

using namespace std::chrono_literals;

struct ExecResult {
  int status = -1;  // exit code of crisp-monitor exec
  std::string out, err;
};

// Runs crisp-monitor with args, stdin from /dev/null, and collects stdout/stderr.
// extra_fd, if >= 0, is passed to the child as fd 3.
ExecResult run_monitor(const std::vector<std::string>& args, int extra_fd = -1) {
  int out[2], err[2];
  EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
  EXPECT_EQ(pipe2(err, O_CLOEXEC), 0);
  std::string bin = monitor_binary();
  std::vector<char*> argv;
  argv.push_back(bin.data());
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    if (extra_fd == 3) fcntl(3, F_SETFD, 0);  // dup2 onto itself would keep O_CLOEXEC
    else if (extra_fd >= 0) dup2(extra_fd, 3);
    execv(bin.c_str(), argv.data());
    _exit(125);
  }
  close(out[1]);
  close(err[1]);
  ExecResult r;
  struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_count = 2;
  while (open_count > 0 && poll(fds, 2, 20000) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (!fds[i].revents) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        fds[i].fd = -1;
        --open_count;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  close(out[0]);
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

UniqueFd connect_control(const std::string& path) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
      << strerror(errno);
  return fd;
}

void touch(const std::string& path) { atomic_write_file(path, ""); }

TEST_F(MonitorTest, LogsStdoutAndStderrAndReportsStart) {
  spec_.process.args = {"sh", "-c", "echo hello; echo err >&2"};
  StartedContainer started = start();
  EXPECT_GT(started.pid, 0);
  EXPECT_GT(started.start_time, 0u);
  auto pid = read_pid_file(bundle_ + "/pid");
  ASSERT_TRUE(pid.has_value());
  EXPECT_EQ(pid->pid, started.pid);
  EXPECT_EQ(pid->start_time, started.start_time);
  EXPECT_GT(pid->monitor_pid, 0);
  ExitFile exit = wait_exit();
  EXPECT_EQ(exit.exit_code, 0);
  EXPECT_EQ(exit.signal, 0);
  EXPECT_GT(exit.finished_at_ns, exit.started_at_ns);
  EXPECT_GT(exit.started_at_ns, 0);
  auto records = log_records();
  ASSERT_EQ(records.size(), 2u);
  // The two streams are separate pipes: their relative order is not defined.
  std::sort(records.begin(), records.end(),
            [](const Record& a, const Record& b) { return a.stream < b.stream; });
  EXPECT_EQ(records[0].stream, "stderr");
  EXPECT_EQ(records[0].tag, "F");
  EXPECT_EQ(records[0].text, "err");
  EXPECT_EQ(records[1].stream, "stdout");
  EXPECT_EQ(records[1].tag, "F");
  EXPECT_EQ(records[1].text, "hello");
  // The control socket is gone with the monitor.
  EXPECT_NE(access((bundle_ + "/control.sock").c_str(), F_OK), 0);
}

TEST_F(MonitorTest, SplitsLongLinesIntoPartialRecords) {
  spec_.log_max_line = 100;
  spec_.process.args = {"sh", "-c", "printf '%0250d\\n' 7; echo after"};
  start();
  EXPECT_EQ(wait_exit().exit_code, 0);
  auto records = log_records();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].tag, "P");
  EXPECT_EQ(records[0].text, std::string(100, '0'));
  EXPECT_EQ(records[1].tag, "P");
  EXPECT_EQ(records[1].text, std::string(100, '0'));
  EXPECT_EQ(records[2].tag, "F");
  EXPECT_EQ(records[2].text, std::string(49, '0') + "7");
  EXPECT_EQ(records[3].tag, "F");
  EXPECT_EQ(records[3].text, "after");
}

TEST_F(MonitorTest, RecordsExitCode) {
  spec_.process.args = {"sh", "-c", "exit 3"};
  start();
  ExitFile exit = wait_exit();
  EXPECT_EQ(exit.exit_code, 3);
  EXPECT_EQ(exit.signal, 0);
}

TEST_F(MonitorTest, ReopensTheLogAfterRotation) {
  spec_.process.args = {"sh", "-c", "echo one; while [ ! -e /tmp/go ]; do sleep 0.02; done; echo two"};
  start();
  ASSERT_TRUE(wait_for([&] { return stdout_text() == "one\n"; }));
  ASSERT_EQ(rename(spec_.log_path.c_str(), (spec_.log_path + ".1").c_str()), 0);
  EXPECT_EQ(send_control_command(bundle_ + "/control.sock", "reopen-log"), "ok");
  touch(rootfs_ + "/tmp/go");
  EXPECT_EQ(wait_exit().exit_code, 0);
  auto rotated = log_records(spec_.log_path + ".1");
  ASSERT_EQ(rotated.size(), 1u);
  EXPECT_EQ(rotated[0].text, "one");
  auto current = log_records();
  ASSERT_EQ(current.size(), 1u);
  EXPECT_EQ(current[0].text, "two");
}

TEST_F(MonitorTest, SignalCommandKillsTheContainer) {
  // In the host pid namespace: a pid-namespace init would ignore SIGTERM (no handler).
  spec_.pid.mode = NamespaceMode::kHost;
  spec_.process.args = {"sleep", "1000"};
  StartedContainer started = start();
  EXPECT_TRUE(process_alive(started.pid));
  EXPECT_EQ(send_control_command(bundle_ + "/control.sock", "signal 15"), "ok");
  ExitFile exit = wait_exit();
  EXPECT_EQ(exit.signal, 15);
  EXPECT_EQ(exit.exit_code, 128 + 15);
  EXPECT_FALSE(process_alive(started.pid));
}

TEST_F(MonitorTest, RejectsBadControlCommands) {
  spec_.process.args = {"sleep", "1000"};
  start();
  // The monitor is detached from its launcher: not our child, leader of its own session.
  auto pid = read_pid_file(bundle_ + "/pid");
  ASSERT_TRUE(pid.has_value());
  std::istringstream stat(read_file("/proc/" + std::to_string(pid->monitor_pid) + "/stat").substr(
      read_file("/proc/" + std::to_string(pid->monitor_pid) + "/stat").rfind(')') + 2));
  std::string state;
  long ppid = 0, pgrp = 0, session = 0;
  stat >> state >> ppid >> pgrp >> session;
  EXPECT_NE(ppid, getpid());
  EXPECT_EQ(session, pid->monitor_pid);
  std::string sock = bundle_ + "/control.sock";
  EXPECT_EQ(send_control_command(sock, "bogus"), "error unknown command");
  EXPECT_EQ(send_control_command(sock, "signal x"), "error bad signal number");
  EXPECT_EQ(send_control_command(sock, "resize 10 10"), "error container has no terminal");
  // A second monitor for the same bundle refuses to start and leaves the first one alone.
  try {
    start();
    ADD_FAILURE() << "a second monitor started";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already running"), std::string::npos) << e.what();
  }
  EXPECT_EQ(send_control_command(sock, "signal 9"), "ok");
  EXPECT_EQ(wait_exit().signal, 9);
}

TEST_F(MonitorTest, ContainerSeesOnlyStdioFds) {
  spec_.process.args = {"ls", "/proc/self/fd"};
  start();
  EXPECT_EQ(wait_exit().exit_code, 0);
  std::set<std::string> fds;
  for (const auto& r : log_records()) fds.insert(r.text);
  // 0, 1, 2 and the directory fd ls itself opened to list /proc/self/fd.
  EXPECT_TRUE(fds.count("0") && fds.count("1") && fds.count("2")) << stdout_text();
  EXPECT_LE(fds.size(), 4u) << stdout_text();
  for (const auto& fd : fds) EXPECT_TRUE(fd == "0" || fd == "1" || fd == "2" || fd == "3") << fd;
}

TEST_F(MonitorTest, SymlinkedMountDestinationStaysInsideTheRootfs) {
  // An image with symlinks pointing at the host's /etc, absolute and relative.
  std::filesystem::create_symlink("/etc", rootfs_ + "/etclink");
  std::filesystem::create_symlink("../../../../../../../../../etc", rootfs_ + "/escape");
  std::string abs_name = "crisp-monitor-test-abs-" + std::to_string(getpid());
  std::string rel_name = "crisp-monitor-test-rel-" + std::to_string(getpid());
  spec_.mounts.push_back({"/etclink/" + abs_name, "tmpfs", "tmpfs", {"nosuid"}, ""});
  spec_.mounts.push_back({"/escape/" + rel_name, "tmpfs", "tmpfs", {"nosuid"}, ""});
  spec_.process.args = {"sh", "-c", "touch /etc/" + abs_name + "/marker && ls /etc/" + abs_name +
                                        " && grep -c " + rel_name + " /proc/mounts"};
  start();
  EXPECT_EQ(wait_exit().exit_code, 0) << stdout_text();
  EXPECT_EQ(stdout_text(), "marker\n1\n");
  // The directories were created in the image's /etc, never in the host's.
  EXPECT_NE(access(("/etc/" + abs_name).c_str(), F_OK), 0);
  EXPECT_NE(access(("/etc/" + rel_name).c_str(), F_OK), 0);
  EXPECT_EQ(access((rootfs_ + "/etc/" + abs_name).c_str(), F_OK), 0);
  EXPECT_EQ(access((rootfs_ + "/etc/" + rel_name).c_str(), F_OK), 0);
  // The marker went to the container's tmpfs, not to the rootfs directory.
  EXPECT_NE(access((rootfs_ + "/etc/" + abs_name + "/marker").c_str(), F_OK), 0);
}

TEST_F(MonitorTest, MissingCommandIsAClearError) {
  spec_.process.args = {"no-such-command"};
  try {
    start();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition);
    std::string msg = e.what();
    EXPECT_NE(msg.find("no-such-command"), std::string::npos) << msg;
    EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
  }
  EXPECT_FALSE(read_exit_file(bundle_ + "/exit").has_value());
  EXPECT_FALSE(read_pid_file(bundle_ + "/pid").has_value());
  EXPECT_TRUE(wait_for([&] { return access((bundle_ + "/control.sock").c_str(), F_OK) != 0; }));
}

TEST_F(MonitorTest, FailedMountNamesTheMount) {
  spec_.mounts.push_back({"/data", "bind", "/nonexistent-crisp-source", {"rbind"}, ""});
  try {
    start();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("/data"), std::string::npos) << msg;
    EXPECT_NE(msg.find("/nonexistent-crisp-source"), std::string::npos) << msg;
  }
}

TEST_F(MonitorTest, NewPidNamespaceMakesTheContainerPidOne) {
  spec_.process.args = {"sh", "-c", "echo $$; hostname"};
  start();
  EXPECT_EQ(wait_exit().exit_code, 0);
  EXPECT_EQ(stdout_text(), "1\ncrisp-test\n");
}

TEST_F(MonitorTest, AppliesUserAndCapabilities) {
  spec_.process.uid = 1234;
  spec_.process.gid = 5678;
  spec_.process.additional_gids = {42};
  // CAP_CHOWN only; a non-root user keeps it across execve only as an ambient capability.
  spec_.process.cap_bounding = spec_.process.cap_permitted = spec_.process.cap_effective =
      spec_.process.cap_inheritable = spec_.process.cap_ambient = 1ULL << 0;
  spec_.process.args = {"sh", "-c",
                        "id -u; id -g; id -G; grep -E '^(CapEff|CapBnd|CapAmb|NoNewPrivs)' "
                        "/proc/self/status"};
  start();
  EXPECT_EQ(wait_exit().exit_code, 0);
  EXPECT_EQ(stdout_text(),
            "1234\n5678\n5678 42\nCapEff:\t0000000000000001\nCapBnd:\t0000000000000001\n"
            "CapAmb:\t0000000000000001\nNoNewPrivs:\t1\n");
}

TEST_F(MonitorTest, TerminalContainer) {
  spec_.process.terminal = true;
  spec_.process.args = {"sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.02; done; tty; stty size"};
  start();
  EXPECT_EQ(send_control_command(bundle_ + "/control.sock", "resize 30 100"), "ok");
  touch(rootfs_ + "/tmp/go");
  EXPECT_EQ(wait_exit().exit_code, 0);
  // A terminal turns "\n" into "\r\n".
  EXPECT_EQ(stdout_text(), "/dev/pts/0\r\n30 100\r\n");
}

TEST_F(MonitorTest, ExecRunsInsideTheContainer) {
  spec_.process.args = {"sleep", "1000"};
  StartedContainer started = start();
  ExecResult r = run_monitor({"exec", "--pid", std::to_string(started.pid), "--", "sh", "-c",
                              "hostname; cat /proc/1/comm; ls /proc/self/fd; exit 7"});
  EXPECT_EQ(r.status, 7) << r.err;
  EXPECT_EQ(r.out, "crisp-test\nsleep\n0\n1\n2\n3\n");

  // With a process spec: user and env from the spec, argv from the command line.
  ProcessSpec proc;
  proc.args = {"unused"};
  proc.env = {"PATH=/bin", "GREETING=hi there"};
  proc.uid = 99;
  proc.gid = 99;
  proc.cwd = "/tmp";
  atomic_write_file(dir_ + "/exec.spec", encode_process_spec(proc));
  r = run_monitor({"exec", "--pid", std::to_string(started.pid), "--spec", dir_ + "/exec.spec",
                   "--", "sh", "-c", "echo $GREETING; id -u; pwd"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hi there\n99\n/tmp\n");

  r = run_monitor({"exec", "--pid", std::to_string(started.pid), "--", "no-such-command"});
  EXPECT_EQ(r.status, 127);
  EXPECT_NE(r.err.find("no-such-command"), std::string::npos) << r.err;

  r = run_monitor({"exec", "--pid", std::to_string(started.pid), "--tty", "--winsize", "25x81",
                   "--", "sh", "-c", "tty; stty size"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "/dev/pts/0\r\n25 81\r\n");

  // Resizing through --resize-fd (already queued when the helper starts; applied long before
  // the command asks).
  int resize[2];
  ASSERT_EQ(pipe2(resize, O_CLOEXEC), 0);
  ASSERT_EQ(write(resize[1], "40 120\n", 7), 7);
  close(resize[1]);
  r = run_monitor({"exec", "--pid", std::to_string(started.pid), "--tty", "--winsize", "25x81",
                   "--resize-fd", "3", "--", "sh", "-c", "sleep 0.5; stty size"},
                  resize[0]);
  close(resize[0]);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "40 120\r\n");

  r = run_monitor({"exec", "--pid", std::to_string(started.pid), "--", "sh", "-c", "kill -9 $$"});
  EXPECT_EQ(r.status, 128 + 9);

  EXPECT_EQ(send_control_command(bundle_ + "/control.sock", "signal 9"), "ok");
  EXPECT_EQ(wait_exit().signal, 9);
}

TEST_F(MonitorTest, MasksPathsAndMakesThingsReadOnly) {
  spec_.readonly_rootfs = true;
  spec_.masked_paths = {"/proc/kcore", "/sys/firmware", "/proc/no-such-path"};
  spec_.readonly_paths = {"/proc/sys"};
  spec_.mounts.push_back({"/tmp", "tmpfs", "tmpfs", {"nosuid", "nodev"}, ""});
  spec_.process.args = {"sh", "-c",
                        "test -s /proc/kcore || echo kcore-masked; "
                        "ls /sys/firmware | grep -c . ; "
                        "touch /rootfs-file 2>/dev/null || echo rootfs-ro; "
                        "echo x > /proc/sys/kernel/domainname 2>/dev/null || echo proc-sys-ro; "
                        "touch /tmp/ok && echo tmp-rw"};
  start();
  EXPECT_EQ(wait_exit().exit_code, 0);
  EXPECT_EQ(stdout_text(), "kcore-masked\n0\nrootfs-ro\nproc-sys-ro\ntmp-rw\n");
}

TEST_F(MonitorTest, RunsWithAKubernetesStyleMountList) {
  // What crispd composes for a CRI container: pod files bound over /etc, the pod's shm, mqueue,
  // a CRI volume, Docker's masked and read-only paths, in a joined-namespace-like setup.
  make_dirs(dir_ + "/pod/shm");
  make_dirs(dir_ + "/volume");
  atomic_write_file(dir_ + "/pod/hostname", "pod-host\n");
  atomic_write_file(dir_ + "/pod/hosts", "127.0.0.1 localhost\n");
  atomic_write_file(dir_ + "/volume/data.txt", "volume-data\n");
  spec_.mounts.push_back({"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}, ""});
  spec_.mounts.push_back({"/dev/shm", "bind", dir_ + "/pod/shm",
                          {"rbind", "rprivate", "nosuid", "nodev", "noexec"}, ""});
  spec_.mounts.push_back({"/etc/hostname", "bind", dir_ + "/pod/hostname", {"rbind", "rprivate", "ro"}, ""});
  spec_.mounts.push_back({"/etc/hosts", "bind", dir_ + "/pod/hosts", {"rbind", "rprivate"}, ""});
  spec_.mounts.push_back({"/data/vol", "bind", dir_ + "/volume", {"rbind", "rslave", "ro"}, ""});
  spec_.mounts.push_back({"/data/rro", "bind", dir_ + "/volume", {"rbind", "rro"}, ""});
  spec_.masked_paths = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                        "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                        "/sys/devices/virtual/powercap"};
  spec_.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  spec_.process.args = {"sh", "-c",
                        "cat /etc/hostname /etc/hosts /data/vol/data.txt; "
                        "touch /dev/shm/x && echo shm-rw; "
                        "touch /data/vol/y 2>/dev/null || echo vol-ro; "
                        "touch /data/rro/y 2>/dev/null || echo rro-ro; "
                        "echo h > /etc/hostname 2>/dev/null || echo hostname-ro; "
                        "grep -c ' /dev/mqueue mqueue ' /proc/mounts"};
  start();
  EXPECT_EQ(wait_exit().exit_code, 0) << read_file_if_exists(dir_ + "/monitor.stderr").value_or("");
  EXPECT_EQ(stdout_text(), "pod-host\n127.0.0.1 localhost\nvolume-data\nshm-rw\nvol-ro\n"
                           "rro-ro\nhostname-ro\n1\n");
  EXPECT_EQ(access((dir_ + "/pod/shm/x").c_str(), F_OK), 0);  // the pod's shm is shared
  // The file destinations were created in the rootfs as empty files.
  EXPECT_EQ(read_file(rootfs_ + "/etc/hostname"), "");
}

TEST_F(MonitorTest, CreatesSpecDevices) {
  spec_.devices = {{"/dev/crisp-null", 'c', 1, 3, 0600, 7, 8}};
  spec_.process.args = {"sh", "-c",
                        "stat -c '%t %T %a %u %g' /dev/crisp-null /dev/null /dev/tty; "
                        "readlink /dev/ptmx; readlink /dev/fd; readlink /dev/stderr"};
  start();
  EXPECT_EQ(wait_exit().exit_code, 0);
  EXPECT_EQ(stdout_text(), "1 3 600 7 8\n1 3 666 0 0\n5 0 666 0 0\npts/ptmx\n/proc/self/fd\n"
                           "/proc/self/fd/2\n");
}

TEST_F(MonitorTest, OomScoreAdjIsAppliedOrLoggedNeverFatal) {
  spec_.process.has_oom_score_adj = true;
  spec_.process.oom_score_adj = -999;  // this host may deny negative values even to root
  spec_.process.args = {"sleep", "1000"};
  StartedContainer started = start();
  std::string adj = read_file("/proc/" + std::to_string(started.pid) + "/oom_score_adj");
  if (adj != "-999\n") {
    EXPECT_NE(read_file(dir_ + "/monitor.stderr").find("cannot set oom_score_adj -999"),
              std::string::npos);
  }
  spec_.process.oom_score_adj = 500;
  BundleSpec second = spec_;
  second.log_path = dir_ + "/second.log";
  StartedContainer other = start_bundle(dir_ + "/bundle2", second);
  EXPECT_EQ(read_file("/proc/" + std::to_string(other.pid) + "/oom_score_adj"), "500\n");
  EXPECT_EQ(send_control_command(dir_ + "/bundle2/control.sock", "signal 9"), "ok");
  wait_bundle_exit(dir_ + "/bundle2");
  EXPECT_EQ(send_control_command(bundle_ + "/control.sock", "signal 9"), "ok");
  wait_exit();
}

TEST_F(MonitorTest, JoinsCgroupsAndExecFollows) {
  std::string cg = "/sys/fs/cgroup/pids/crisp-monitor-test-" + std::to_string(getpid());
  if (access("/sys/fs/cgroup/pids/cgroup.procs", W_OK) != 0) GTEST_SKIP() << "no pids cgroup v1";
  ASSERT_EQ(mkdir(cg.c_str(), 0755), 0) << strerror(errno);
  cgroups_.push_back(cg);
  spec_.cgroup_procs = {cg + "/cgroup.procs"};
  spec_.process.args = {"sleep", "1000"};
  StartedContainer started = start();
  EXPECT_EQ(read_file(cg + "/cgroup.procs"), std::to_string(started.pid) + "\n");
  ExecResult r = run_monitor({"exec", "--pid", std::to_string(started.pid), "--", "sh", "-c",
                              "grep -c crisp-monitor-test /proc/self/cgroup"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "1\n");
  EXPECT_EQ(send_control_command(bundle_ + "/control.sock", "signal 9"), "ok");
  wait_exit();
  EXPECT_TRUE(wait_for([&] { return read_file(cg + "/cgroup.procs").empty(); }));
}

TEST_F(MonitorTest, JoinsAnotherContainersNamespaces) {
  // The pod pattern: the first container owns the namespaces, the second joins them.
  spec_.process.args = {"sleep", "1000"};
  StartedContainer first = start();
  BundleSpec second = spec_;
  std::string proc = "/proc/" + std::to_string(first.pid) + "/ns/";
  second.pid = {NamespaceMode::kJoin, proc + "pid"};
  second.net = {NamespaceMode::kJoin, proc + "net"};
  second.ipc = {NamespaceMode::kJoin, proc + "ipc"};
  second.uts = {NamespaceMode::kJoin, proc + "uts"};
  second.hostname = "ignored-when-joining";
  second.log_path = dir_ + "/second.log";
  second.process.args = {"sh", "-c",
                         "hostname; echo $$; cat /proc/1/comm; readlink /proc/self/ns/net; "
                         "readlink /proc/self/ns/ipc"};
  std::string bundle2 = dir_ + "/bundle2";
  StartedContainer joined = start_bundle(bundle2, second);
  EXPECT_EQ(wait_bundle_exit(bundle2).exit_code, 0);
  auto records = log_records(second.log_path);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].text, "crisp-test");
  EXPECT_NE(records[1].text, "1");  // not the init of the shared pid namespace
  EXPECT_EQ(records[2].text, "sleep");
  EXPECT_EQ(records[3].text, std::filesystem::read_symlink(proc + "net").string());
  EXPECT_EQ(records[4].text, std::filesystem::read_symlink(proc + "ipc").string());
  EXPECT_NE(records[3].text, std::filesystem::read_symlink("/proc/self/ns/net").string());
  (void)joined;
  EXPECT_EQ(send_control_command(bundle_ + "/control.sock", "signal 9"), "ok");
  wait_exit();
}

TEST_F(MonitorTest, AttachesAPrecompiledSeccompFilter) {
  // What crispd does once per profile: compile with libseccomp, export the BPF.
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  ASSERT_NE(ctx, nullptr);
  ASSERT_EQ(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mkdir), 0), 0);
  ASSERT_EQ(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mkdirat), 0), 0);
  std::string bpf = dir_ + "/profile.bpf";
  int fd = open(bpf.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(seccomp_export_bpf(ctx, fd), 0);
  close(fd);
  seccomp_release(ctx);
  spec_.process.seccomp_bpf_path = bpf;
  spec_.process.args = {"sh", "-c", "mkdir /tmp/x 2>/dev/null || echo denied; "
                                    "grep Seccomp: /proc/self/status"};
  start();
  EXPECT_EQ(wait_exit().exit_code, 0);
  EXPECT_EQ(stdout_text(), "denied\nSeccomp:\t2\n");

  // Without no_new_privs the filter is attached while CAP_SYS_ADMIN is still held.
  spec_.process.no_new_privs = false;
  unlink((bundle_ + "/exit").c_str());
  unlink(spec_.log_path.c_str());
  start();
  EXPECT_EQ(wait_exit().exit_code, 0);
  EXPECT_EQ(stdout_text(), "denied\nSeccomp:\t2\n");
}

TEST_F(MonitorTest, AppliesRlimits) {
  spec_.process.rlimits = {{RLIMIT_NOFILE, 123, 456}};
  spec_.process.args = {"sh", "-c", "ulimit -n; ulimit -H -n"};
  start();
  EXPECT_EQ(wait_exit().exit_code, 0);
  EXPECT_EQ(stdout_text(), "123\n456\n");
}

// Frames of the attach stream: 1 byte stream id, 4 bytes big-endian length, payload.
std::string frame(unsigned char stream, const std::string& payload) {
  std::string f(5, '\0');
  f[0] = static_cast<char>(stream);
  uint32_t len = static_cast<uint32_t>(payload.size());
  f[1] = static_cast<char>(len >> 24);
  f[2] = static_cast<char>(len >> 16);
  f[3] = static_cast<char>(len >> 8);
  f[4] = static_cast<char>(len);
  return f + payload;
}

TEST_F(MonitorTest, AttachStreamsStdinAndStdout) {
  spec_.process.stdin = true;
  spec_.process.args = {"cat"};
  start();
  UniqueFd conn = connect_control(bundle_ + "/control.sock");
  std::string request = "attach\n" + frame(0, "hello\n") + frame(0, "");
  ASSERT_EQ(write(conn.get(), request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string received;
  char buf[256];
  ssize_t n;
  while ((n = read(conn.get(), buf, sizeof(buf))) > 0) received.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(received, "ok\n" + frame(1, "hello\n"));
  EXPECT_EQ(wait_exit().exit_code, 0);
  EXPECT_EQ(stdout_text(), "hello\n");
}

TEST_F(MonitorTest, StdinOnceClosesStdinWhenTheAttachedClientLeaves) {
  spec_.process.stdin = true;
  spec_.process.stdin_once = true;
  spec_.process.args = {"sh", "-c", "cat; echo stdin-closed"};
  start();
  {
    UniqueFd conn = connect_control(bundle_ + "/control.sock");
    std::string request = "attach\n" + frame(0, "typed\n");
    ASSERT_EQ(write(conn.get(), request.data(), request.size()),
              static_cast<ssize_t>(request.size()));
    char ok[3];
    ASSERT_EQ(read(conn.get(), ok, 3), 3);
    ASSERT_TRUE(wait_for([&] { return stdout_text() == "typed\n"; }));
  }  // disconnect without closing stdin explicitly
  EXPECT_EQ(wait_exit().exit_code, 0);
  EXPECT_EQ(stdout_text(), "typed\nstdin-closed\n");
}

TEST_F(MonitorTest, PodInitReapsAndExitsOnSigterm) {
  pid_t pid = fork();
  if (pid == 0) {
    std::string bin = monitor_binary();
    execl(bin.c_str(), bin.c_str(), "pod-init", nullptr);
    _exit(125);
  }
  extra_pids_.push_back(pid);
  ASSERT_TRUE(wait_for([&] {
    auto s = read_file_if_exists("/proc/" + std::to_string(pid) + "/cmdline");
    return s && s->find("pod-init") != std::string::npos;
  }));
  std::this_thread::sleep_for(20ms);  // let it block the signals
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  extra_pids_.clear();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// Not a correctness test: prints the figures the design is judged by.
TEST_F(MonitorTest, ReportsMemoryAndStartLatency) {
  spec_.process.args = {"sleep", "1000"};
  start();
  auto pid = read_pid_file(bundle_ + "/pid");
  ASSERT_TRUE(pid.has_value());
  std::this_thread::sleep_for(200ms);  // idle: past the post-start trimming
  std::string rollup = read_file("/proc/" + std::to_string(pid->monitor_pid) + "/smaps_rollup");
  auto field = [&](const std::string& name) {
    auto pos = rollup.find("\n" + name + ":");
    return pos == std::string::npos ? -1 : std::stol(rollup.substr(pos + name.size() + 2));
  };
  std::printf("[ monitor ] idle monitor: Rss %ld kB, Pss %ld kB, Pss_Anon %ld kB, Pss_File %ld kB\n",
              field("Rss"), field("Pss"), field("Pss_Anon"), field("Pss_File"));
  EXPECT_LT(field("Pss_Anon"), 300);

  // Ten idle containers: the binary's pages are shared, what each adds is its private memory.
  std::vector<pid_t> monitors;
  for (int i = 0; i < 10; ++i) {
    BundleSpec s = spec_;
    s.log_path = dir_ + "/log" + std::to_string(i);
    std::string b = dir_ + "/many" + std::to_string(i);
    start_bundle(b, s);
    monitors.push_back(read_pid_file(b + "/pid")->monitor_pid);
  }
  std::this_thread::sleep_for(200ms);
  long total_pss = 0, total_rss = 0;
  for (pid_t p : monitors) {
    rollup = read_file("/proc/" + std::to_string(p) + "/smaps_rollup");
    total_pss += field("Pss");
    total_rss += field("Rss");
  }
  std::printf("[ monitor ] 11 idle monitors: mean Rss %ld kB, mean Pss %ld kB\n",
              total_rss / 10, total_pss / 10);
  for (int i = 0; i < 10; ++i) {
    std::string b = dir_ + "/many" + std::to_string(i);
    EXPECT_EQ(send_control_command(b + "/control.sock", "signal 9"), "ok");
    wait_bundle_exit(b);
  }
  EXPECT_EQ(send_control_command(bundle_ + "/control.sock", "signal 9"), "ok");
  wait_exit();
  // Spawn to "started" for busybox true, back to back.
  spec_.process.args = {"true"};
  spec_.net.mode = NamespaceMode::kHost;  // a pod's container joins the pod's netns
  write_spec();
  std::vector<double> ms;
  for (int i = 0; i < 50; ++i) {
    unlink((bundle_ + "/exit").c_str());
    unlink((bundle_ + "/pid").c_str());
    auto t0 = std::chrono::steady_clock::now();
    start_container_monitor(monitor_binary(), bundle_, "", 10s);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    wait_exit();
  }
  std::sort(ms.begin(), ms.end());
  std::printf("[ monitor ] spawn -> started (busybox true, new mnt/pid/ipc/uts ns): p50 %.3f ms, "
              "p90 %.3f ms, max %.3f ms\n", ms[ms.size() / 2], ms[ms.size() * 9 / 10], ms.back());
}

}  // namespace
}  // namespace crisp::monitor::test
