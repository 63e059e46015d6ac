// Library-level integration tests of sandboxes and containers (root; busybox rootfs on overlay).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "tests/integration/runtime/runtime_fixture.h"

namespace crisp::runtime::test {
namespace {

using namespace std::chrono_literals;

std::string ns_link(pid_t pid, const char* kind) {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/" + kind, ec).string();
}

TEST_F(RuntimeTest, ContainerSeesConfiguredHostnameEnvUserAndCwd) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-a"));
  auto config = container_config("c1", {"sh", "-c", "hostname; echo ENV:$FOO; id; pwd; cat /etc/hostname"});
  config.envs = {{"FOO", "bar baz"}};
  config.working_dir = "/tmp";
  config.run_as_user = 1000;
  auto id = create_and_start(pod, config);
  auto info = wait_exited(id);
  ASSERT_EQ(info.state, ContainerState::kExited);
  EXPECT_EQ(info.exit_code, 0);
  EXPECT_EQ(info.reason, "Completed");
  EXPECT_GT(info.finished_at_ns, info.started_at_ns);
  EXPECT_EQ(info.log_path, logs_ + "/pod-a/c1.log");
  std::string out = log_text(read_cri_log(info.log_path), "stdout");
  EXPECT_EQ(out, "pod-a\nENV:bar baz\nuid=1000(app) gid=1000(app) groups=1000(app),2000(extra)\n/tmp\npod-a\n");
}

TEST_F(RuntimeTest, ImageUserByNameAndRunAsGroup) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-user"));
  auto config = container_config("c1", {"id"});
  config.run_as_username = "app";
  config.run_as_group = 3000;
  config.supplemental_groups = {4000};
  auto id = create_and_start(pod, config);
  auto info = wait_exited(id);
  EXPECT_EQ(info.exit_code, 0);
  EXPECT_EQ(log_text(read_cri_log(info.log_path)), "uid=1000(app) gid=3000 groups=2000(extra),3000,4000\n");
}

TEST_F(RuntimeTest, ExitCodeThreeIsReportedAsError) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-exit"));
  auto id = create_and_start(pod, container_config("c", {"sh", "-c", "echo oops >&2; exit 3"}));
  auto info = wait_exited(id);
  EXPECT_EQ(info.exit_code, 3);
  EXPECT_EQ(info.reason, "Error");
  auto lines = read_cri_log(info.log_path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].stream, "stderr");
  EXPECT_EQ(lines[0].text, "oops");
}

TEST_F(RuntimeTest, ContainersOfAPodShareIpcAndUtsButNotMount) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-share"));
  auto a = create_and_start(pod, container_config("a", {"sleep", "1000"}));
  auto b = create_and_start(pod, container_config("b", {"sleep", "1000"}));
  pid_t pa = runtime_->container_status(a).pid;
  pid_t pb = runtime_->container_status(b).pid;
  ASSERT_GT(pa, 0);
  ASSERT_GT(pb, 0);
  EXPECT_EQ(ns_link(pa, "ipc"), ns_link(pb, "ipc"));
  EXPECT_EQ(ns_link(pa, "uts"), ns_link(pb, "uts"));
  EXPECT_EQ(ns_link(pa, "net"), ns_link(pb, "net"));
  EXPECT_NE(ns_link(pa, "mnt"), ns_link(pb, "mnt"));
  EXPECT_NE(ns_link(pa, "pid"), ns_link(pb, "pid"));
  EXPECT_NE(ns_link(pa, "net"), ns_link(::getpid(), "net"));
  EXPECT_NE(ns_link(pa, "ipc"), ns_link(::getpid(), "ipc"));
  auto sandbox = runtime_->sandbox_status(pod);
  EXPECT_EQ(sandbox.state, SandboxState::kReady);
  EXPECT_EQ(sandbox.netns_path, state_ + "/sandboxes/" + pod + "/ns/net");
  struct stat pinned, seen;
  ASSERT_EQ(::stat(sandbox.netns_path.c_str(), &pinned), 0);
  ASSERT_EQ(::stat(("/proc/" + std::to_string(pa) + "/ns/net").c_str(), &seen), 0);
  EXPECT_EQ(pinned.st_ino, seen.st_ino);
  // lo is up in the pod's network namespace.
  auto result = runtime_->exec_sync(a, {"cat", "/sys/class/net/lo/operstate", "/sys/class/net/lo/flags"}, 10s);
  EXPECT_EQ(result.exit_code, 0) << result.stderr_data;
  EXPECT_NE(result.stdout_data.find("0x9"), std::string::npos) << result.stdout_data;
}

TEST_F(RuntimeTest, PodPidNamespaceShowsBothContainers) {
  auto config = sandbox_config("pod-pid");
  config.pid = NamespaceMode::kPod;
  auto pod = runtime_->run_sandbox(config);
  auto sandbox = runtime_->sandbox_status(pod);
  ASSERT_GT(sandbox.pod_init_pid, 0);
  auto ca = container_config("a", {"sleep", "1001"});
  ca.pid_namespace = NamespaceMode::kPod;
  auto cb = container_config("b", {"sleep", "1002"});
  cb.pid_namespace = NamespaceMode::kPod;
  auto a = create_and_start(pod, ca);
  auto b = create_and_start(pod, cb);
  EXPECT_EQ(ns_link(runtime_->container_status(a).pid, "pid"), ns_link(runtime_->container_status(b).pid, "pid"));
  auto result = runtime_->exec_sync(a, {"ps", "-o", "pid,args"}, 10s);
  EXPECT_EQ(result.exit_code, 0) << result.stderr_data;
  EXPECT_NE(result.stdout_data.find("sleep 1001"), std::string::npos) << result.stdout_data;
  EXPECT_NE(result.stdout_data.find("sleep 1002"), std::string::npos) << result.stdout_data;
  EXPECT_NE(result.stdout_data.find("    1 crisp-monitor"), std::string::npos) << result.stdout_data;
}

TEST_F(RuntimeTest, BindMountsAreVisibleAndReadOnlyOnesNotWritable) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-mounts"));
  std::string rw = dir_ + "/host-rw";
  std::string ro = dir_ + "/host-ro";
  make_dirs(rw);
  make_dirs(ro);
  atomic_write_file(ro + "/hello", "from the host\n");
  auto config = container_config("c", {"sh", "-c",
                                       "cat /data/ro/hello; echo written > /data/rw/out; "
                                       "if touch /data/ro/x 2>/dev/null; then echo RO-WRITABLE; else echo ro-refused; fi"});
  config.mounts = {{"/data/rw", rw, false, MountPropagation::kPrivate},
                   {"/data/ro", ro, true, MountPropagation::kHostToContainer}};
  auto id = create_and_start(pod, config);
  auto info = wait_exited(id);
  EXPECT_EQ(info.exit_code, 0);
  EXPECT_EQ(log_text(read_cri_log(info.log_path)), "from the host\nro-refused\n");
  EXPECT_EQ(read_file(rw + "/out"), "written\n");
  EXPECT_FALSE(std::filesystem::exists(ro + "/x"));
}

TEST_F(RuntimeTest, ReadonlyRootfsCannotBeWritten) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-rorootfs"));
  auto config = container_config("c", {"sh", "-c", "touch /newfile 2>/dev/null && echo writable || echo refused"});
  config.readonly_rootfs = true;
  auto info = wait_exited(create_and_start(pod, config));
  EXPECT_EQ(log_text(read_cri_log(info.log_path)), "refused\n");
}

TEST_F(RuntimeTest, LongLinesAreSplitIntoPartialEntries) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-long"));
  // 40000 characters: 16384 + 16384 partial, then the rest with F.
  auto id = create_and_start(pod, container_config("c", {"sh", "-c", "head -c 40000 /dev/zero | tr '\\0' a; echo"}));
  auto info = wait_exited(id);
  EXPECT_EQ(info.exit_code, 0);
  auto lines = read_cri_log(info.log_path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].tag, 'P');
  EXPECT_EQ(lines[0].text.size(), 16384u);
  EXPECT_EQ(lines[1].tag, 'P');
  EXPECT_EQ(lines[2].tag, 'F');
  EXPECT_EQ(lines[0].text.size() + lines[1].text.size() + lines[2].text.size(), 40000u);
}

TEST_F(RuntimeTest, TtyContainerHasATerminal) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-tty"));
  auto config = container_config("c", {"sh", "-c", "test -t 0 && test -t 1 && echo has-tty; tty"});
  config.tty = true;
  auto info = wait_exited(create_and_start(pod, config));
  EXPECT_EQ(info.exit_code, 0);
  std::string out = log_text(read_cri_log(info.log_path));
  EXPECT_NE(out.find("has-tty"), std::string::npos) << out;
  EXPECT_NE(out.find("/dev/pts/"), std::string::npos) << out;
}

TEST_F(RuntimeTest, ExecSyncOutputExitCodeAndTimeout) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-exec"));
  auto config = container_config("c", {"sleep", "1000"});
  config.envs = {{"GREETING", "hi"}};
  config.working_dir = "/tmp";
  auto id = create_and_start(pod, config);
  auto r = runtime_->exec_sync(id, {"sh", "-c", "echo $GREETING; pwd; echo err >&2; exit 7"}, 10s);
  EXPECT_EQ(r.stdout_data, "hi\n/tmp\n");
  EXPECT_EQ(r.stderr_data, "err\n");
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_FALSE(r.timed_out);

  auto start = std::chrono::steady_clock::now();
  auto slow = runtime_->exec_sync(id, {"sleep", "30"}, 500ms);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(slow.timed_out);
  EXPECT_LT(took, 5s);
  // The timed-out command does not linger in the container.
  std::this_thread::sleep_for(100ms);
  auto ps = runtime_->exec_sync(id, {"ps", "-o", "args"}, 10s);
  EXPECT_EQ(ps.stdout_data.find("sleep 30"), std::string::npos) << ps.stdout_data;

  auto missing = runtime_->exec_sync(id, {"no-such-command"}, 10s);
  EXPECT_EQ(missing.exit_code, 127);

  // A background child that keeps stdout open does not hold the call.
  start = std::chrono::steady_clock::now();
  auto background = runtime_->exec_sync(id, {"sh", "-c", "sleep 20 & echo done"}, 10s);
  EXPECT_EQ(background.stdout_data, "done\n");
  EXPECT_EQ(background.exit_code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST_F(RuntimeTest, StopAndRemoveAreIdempotent) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-stop"));
  auto id = create_and_start(pod, container_config("c", {"sleep", "1000"}));
  auto start = std::chrono::steady_clock::now();
  runtime_->stop_container(id, 1s);  // sleep as pid 1 has no TERM handler: killed after 1 s
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  auto info = runtime_->container_status(id);
  EXPECT_EQ(info.state, ContainerState::kExited);
  EXPECT_EQ(info.pid, 0);
  runtime_->stop_container(id, 10s);
  runtime_->remove_container(id);
  runtime_->remove_container(id);
  EXPECT_THROW(runtime_->container_status(id), Error);
  EXPECT_THROW(runtime_->stop_container(id, 1s), Error);
  runtime_->stop_sandbox(pod);
  runtime_->stop_sandbox(pod);
  EXPECT_EQ(runtime_->sandbox_status(pod).state, SandboxState::kNotReady);
  runtime_->remove_sandbox(pod);
  runtime_->remove_sandbox(pod);
  EXPECT_THROW(runtime_->sandbox_status(pod), Error);
  std::lock_guard lock(released_mu_);
  EXPECT_EQ(std::count(released_.begin(), released_.end(), id), 1);
}

TEST_F(RuntimeTest, StopSignalThenKillAfterTimeout) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-sig"));
  // Ignores TERM: must be killed after the 1 s timeout.
  auto id = create_and_start(pod, container_config("c", {"sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"}));
  ASSERT_TRUE(wait_log_contains(runtime_->container_status(id).log_path, "ready"));
  auto start = std::chrono::steady_clock::now();
  runtime_->stop_container(id, 1s);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 900ms);
  auto info = runtime_->container_status(id);
  EXPECT_EQ(info.state, ContainerState::kExited);
  EXPECT_EQ(info.exit_code, 137);
}

TEST_F(RuntimeTest, StartingInAStoppedPodFails) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-stopped"));
  auto id = create(pod, container_config("c", {"true"}));
  runtime_->stop_sandbox(pod);
  try {
    runtime_->start_container(id);
    FAIL() << "started a container in a stopped pod";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition);
  }
  EXPECT_THROW(create(pod, container_config("d", {"true"})), Error);
}

TEST_F(RuntimeTest, MissingCommandFailsAtCreateAndLeavesNothing) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-missing"));
  auto before = resource_counts();
  try {
    create(pod, container_config("c", {"/bin/no-such-binary"}));
    FAIL() << "created a container whose command does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("no-such-binary"), std::string::npos) << e.what();
  }
  try {
    create(pod, container_config("d", {"nosuchcmd"}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("$PATH"), std::string::npos) << e.what();
  }
  auto relative = container_config("e", {"true"});
  relative.mounts = {{"relative/path", dir_, false, MountPropagation::kPrivate}};
  EXPECT_THROW(create(pod, relative), Error);
  EXPECT_EQ(resource_counts(), before);
  EXPECT_TRUE(runtime_->list_containers().empty());
  std::lock_guard lock(released_mu_);
  EXPECT_EQ(released_.size(), 3u);  // each failed creation released the rootfs it prepared
}

TEST_F(RuntimeTest, ListFiltersByStateSandboxAndLabels) {
  auto p1 = runtime_->run_sandbox(sandbox_config("pod-l1"));
  auto p2 = runtime_->run_sandbox(sandbox_config("pod-l2"));
  auto c1 = create_and_start(p1, container_config("one", {"sleep", "1000"}));
  auto c2 = create(p2, container_config("two", {"sleep", "1000"}));
  EXPECT_EQ(runtime_->list_containers().size(), 2u);
  ContainerFilter running;
  running.state = ContainerState::kRunning;
  auto r = runtime_->list_containers(running);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].id, c1);
  ContainerFilter by_pod;
  by_pod.sandbox_id = p2;
  ASSERT_EQ(runtime_->list_containers(by_pod).size(), 1u);
  EXPECT_EQ(runtime_->list_containers(by_pod)[0].id, c2);
  ContainerFilter by_label;
  by_label.label_selector = {{"container", "two"}};
  ASSERT_EQ(runtime_->list_containers(by_label).size(), 1u);
  ContainerFilter by_prefix;
  by_prefix.id = c1.substr(0, 12);
  ASSERT_EQ(runtime_->list_containers(by_prefix).size(), 1u);
  EXPECT_EQ(runtime_->container_status(c1.substr(0, 12)).id, c1);
  SandboxFilter pods;
  pods.label_selector = {{"app", "pod-l1"}};
  ASSERT_EQ(runtime_->list_sandboxes(pods).size(), 1u);
  EXPECT_EQ(runtime_->list_sandboxes(pods)[0].id, p1);
  EXPECT_THROW(runtime_->run_sandbox(sandbox_config("pod-l1")), Error);  // same metadata
}

TEST_F(RuntimeTest, EventsForContainersAndSandboxes) {
  auto subscription = runtime_->events().subscribe();
  auto pod = runtime_->run_sandbox(sandbox_config("pod-events"));
  auto id = create_and_start(pod, container_config("c", {"true"}));
  wait_exited(id);
  runtime_->remove_container(id);
  runtime_->stop_sandbox(pod);
  runtime_->remove_sandbox(pod);
  std::vector<std::pair<EventType, std::string>> seen;
  while (auto event = subscription->next(500ms)) seen.emplace_back(event->type, event->container_id);
  std::vector<std::pair<EventType, std::string>> expected = {
      {EventType::kContainerCreated, pod}, {EventType::kContainerStarted, pod},
      {EventType::kContainerCreated, id},  {EventType::kContainerStarted, id},
      {EventType::kContainerStopped, id},  {EventType::kContainerDeleted, id},
      {EventType::kContainerStopped, pod}, {EventType::kContainerDeleted, pod}};
  EXPECT_EQ(seen, expected);
}

TEST_F(RuntimeTest, SysctlsAndDnsConfig) {
  auto config = sandbox_config("pod-sysctl");
  config.sysctls = {{"net.ipv4.ip_unprivileged_port_start", "80"}, {"kernel.shmmni", "1234"}};
  config.dns.servers = {"10.0.0.10"};
  config.dns.searches = {"ns.svc.cluster.local"};
  config.dns.options = {"ndots:5"};
  auto pod = runtime_->run_sandbox(config);
  auto id = create_and_start(pod, container_config("c", {"sh", "-c",
      "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmni /etc/resolv.conf; "
      "mount | grep -c ' /dev/shm '"}));
  auto info = wait_exited(id);
  EXPECT_EQ(log_text(read_cri_log(info.log_path)),
            "80\n1234\nsearch ns.svc.cluster.local\nnameserver 10.0.0.10\noptions ndots:5\n1\n");
  auto bad = sandbox_config("pod-badsysctl");
  bad.sysctls = {{"kernel.panic", "1"}};
  EXPECT_THROW(runtime_->run_sandbox(bad), Error);
  auto host_net = sandbox_config("pod-hostnet-sysctl");
  host_net.network = NamespaceMode::kNode;
  host_net.sysctls = {{"net.ipv4.ip_forward", "1"}};
  EXPECT_THROW(runtime_->run_sandbox(host_net), Error);
}

TEST_F(RuntimeTest, HostNetworkPodUsesTheHostNamespaces) {
  auto config = sandbox_config("pod-hostnet");
  config.network = NamespaceMode::kNode;
  config.ipc = NamespaceMode::kNode;
  auto pod = runtime_->run_sandbox(config);
  EXPECT_TRUE(runtime_->sandbox_status(pod).netns_path.empty());
  auto id = create_and_start(pod, container_config("c", {"sleep", "1000"}));
  pid_t pid = runtime_->container_status(id).pid;
  EXPECT_EQ(ns_link(pid, "net"), ns_link(::getpid(), "net"));
  EXPECT_EQ(ns_link(pid, "ipc"), ns_link(::getpid(), "ipc"));
  EXPECT_EQ(ns_link(pid, "uts"), ns_link(::getpid(), "uts"));
}

TEST_F(RuntimeTest, TwentyPodsLeaveNothingBehind) {
  auto before = resource_counts();
  for (int i = 0; i < 20; ++i) {
    auto config = sandbox_config("pod-loop-" + std::to_string(i));
    if (i % 2) config.pid = NamespaceMode::kPod;
    auto pod = runtime_->run_sandbox(config);
    auto c = container_config("c", {"sleep", "1000"});
    if (i % 2) c.pid_namespace = NamespaceMode::kPod;
    auto id = create_and_start(pod, c);
    runtime_->stop_container(id, 0s);
    runtime_->stop_sandbox(pod);
    runtime_->remove_sandbox(pod);
  }
  EXPECT_EQ(resource_counts(), before);
  EXPECT_TRUE(runtime_->list_sandboxes().empty());
  EXPECT_TRUE(runtime_->list_containers().empty());
}

TEST_F(RuntimeTest, RecoveryAfterACrashKeepsEverything) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-recover"));
  auto config = sandbox_config("pod-recover-pid");
  config.pid = NamespaceMode::kPod;
  auto pod2 = runtime_->run_sandbox(config);
  auto running = create_and_start(pod, container_config("running", {"sh", "-c", "while true; do echo tick; sleep 0.2; done"}));
  auto exits = create_and_start(pod, container_config("exits", {"sh", "-c", "read x < /tmp/never 2>/dev/null; sleep 1.5; exit 5"}));
  auto created = create(pod, container_config("created", {"true"}));
  auto c2 = container_config("shared", {"sleep", "1000"});
  c2.pid_namespace = NamespaceMode::kPod;
  auto shared = create_and_start(pod2, c2);
  auto done = create_and_start(pod, container_config("done", {"sh", "-c", "exit 4"}));
  wait_exited(done);
  pid_t running_pid = runtime_->container_status(running).pid;

  runtime_.reset();  // as a crash: nothing stopped
  std::this_thread::sleep_for(2s);  // "exits" exits meanwhile
  restart_runtime();

  EXPECT_EQ(runtime_->list_sandboxes().size(), 2u);
  EXPECT_EQ(runtime_->list_containers().size(), 5u);
  EXPECT_EQ(runtime_->sandbox_status(pod).state, SandboxState::kReady);
  EXPECT_EQ(runtime_->sandbox_status(pod2).state, SandboxState::kReady);
  auto r = runtime_->container_status(running);
  EXPECT_EQ(r.state, ContainerState::kRunning);
  EXPECT_EQ(r.pid, running_pid);
  EXPECT_EQ(runtime_->container_status(shared).state, ContainerState::kRunning);
  EXPECT_EQ(runtime_->container_status(created).state, ContainerState::kCreated);
  auto e = runtime_->container_status(exits);
  EXPECT_EQ(e.state, ContainerState::kExited);
  EXPECT_EQ(e.exit_code, 5);
  EXPECT_EQ(runtime_->container_status(done).exit_code, 4);
  // Still adopted: logs keep growing, exec and stop work, the exit is seen.
  auto size = read_file(r.log_path).size();
  std::this_thread::sleep_for(500ms);
  EXPECT_GT(read_file(r.log_path).size(), size);
  EXPECT_EQ(runtime_->exec_sync(running, {"true"}, 10s).exit_code, 0);
  runtime_->start_container(created);
  EXPECT_EQ(wait_exited(created).exit_code, 0);
  runtime_->stop_container(running, 0s);
  EXPECT_EQ(runtime_->container_status(running).exit_code, 137);
}

TEST_F(RuntimeTest, RecoveryRollsBackHalfCreatedContainers) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-half"));
  auto before = resource_counts();
  auto id = create(pod, container_config("c", {"true"}));
  runtime_.reset();
  // Mark the record as still "creating", as a crash in the middle of CreateContainer leaves it.
  std::string record_path = root_ + "/containers/" + id + ".json";
  std::string text = read_file(record_path);
  auto pos = text.find("\"creating\":false");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, 16, "\"creating\":true ");
  atomic_write_file(record_path, text);
  restart_runtime();
  EXPECT_TRUE(runtime_->list_containers().empty());
  EXPECT_EQ(resource_counts(), before);
  std::lock_guard lock(released_mu_);
  EXPECT_EQ(std::count(released_.begin(), released_.end(), id), 1);
}

TEST_F(RuntimeTest, ReopenLog) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-reopen"));
  auto id = create_and_start(pod, container_config("c", {"sh", "-c", "while true; do echo line; sleep 0.05; done"}));
  auto path = runtime_->container_status(id).log_path;
  ASSERT_TRUE(wait_log_contains(path, "line"));
  ASSERT_EQ(::rename(path.c_str(), (path + ".1").c_str()), 0);
  runtime_->reopen_container_log(id);
  EXPECT_TRUE(wait_log_contains(path, "line"));
}

}  // namespace
}  // namespace crisp::runtime::test

namespace crisp::runtime::test {
namespace {

// Not a pass/fail check: prints p50/p99 of RunPodSandbox, CreateContainer and StartContainer at
// library level (busybox on overlay, pinned namespaces, no network, no cgroups).
TEST_F(RuntimeTest, TimingsOfAPod) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> run, create_ms, start;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  for (int i = 0; i < 40; ++i) {
    auto config = sandbox_config("pod-timing-" + std::to_string(i));
    auto t0 = Clock::now();
    auto pod = runtime_->run_sandbox(config);
    auto t1 = Clock::now();
    auto id = create(pod, container_config("c", {"true"}));
    auto t2 = Clock::now();
    runtime_->start_container(id);
    auto t3 = Clock::now();
    run.push_back(ms(t1 - t0));
    create_ms.push_back(ms(t2 - t1));
    start.push_back(ms(t3 - t2));
    wait_exited(id);
    runtime_->stop_sandbox(pod);
    runtime_->remove_sandbox(pod);
  }
  auto report = [](const char* name, std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::printf("%-16s p50 %7.3f ms   p99 %7.3f ms\n", name, v[v.size() / 2], v[v.size() * 99 / 100]);
  };
  report("RunPodSandbox", run);
  report("CreateContainer", create_ms);
  report("StartContainer", start);
}

}  // namespace
}  // namespace crisp::runtime::test

namespace crisp::runtime::test {
namespace {

TEST_F(RuntimeTest, DevicesAreCreated) {
  auto pod = runtime_->run_sandbox(sandbox_config("pod-dev"));
  auto config = container_config("c", {"sh", "-c", "ls -l /dev/mynull; echo x > /dev/mynull && echo wrote"});
  config.devices = {{"/dev/mynull", "/dev/null", "rwm"}};
  auto info = wait_exited(create_and_start(pod, config));
  std::string out = log_text(read_cri_log(info.log_path));
  EXPECT_EQ(out.rfind("crw-rw-rw-", 0), 0u) << out;
  EXPECT_NE(out.find("1,   3"), std::string::npos) << out;
  EXPECT_NE(out.find("wrote"), std::string::npos) << out;
}

// ListContainers and ContainerStatus are served from memory: fast with 500 containers.
TEST_F(RuntimeTest, ListingFiveHundredContainersIsFast) {
  std::vector<std::string> pods;
  for (int p = 0; p < 5; ++p) pods.push_back(runtime_->run_sandbox(sandbox_config("pod-many-" + std::to_string(p))));
  std::vector<std::string> ids;
  for (int i = 0; i < 500; ++i) {
    ids.push_back(create(pods[i % 5], container_config("c" + std::to_string(i), {"true"})));
  }
  auto t0 = std::chrono::steady_clock::now();
  auto all = runtime_->list_containers();
  auto t1 = std::chrono::steady_clock::now();
  ContainerFilter one_pod;
  one_pod.sandbox_id = pods[2];
  auto some = runtime_->list_containers(one_pod);
  for (const auto& id : ids) runtime_->container_status(id);
  auto t2 = std::chrono::steady_clock::now();
  EXPECT_EQ(all.size(), 500u);
  EXPECT_EQ(some.size(), 100u);
  auto list_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  auto status_us = std::chrono::duration<double, std::micro>(t2 - t1).count() / 500;
  std::printf("list_containers(500): %.3f ms; container_status: %.1f us each\n", list_ms, status_us);
  EXPECT_LT(list_ms, 50);
  EXPECT_LT(status_us, 500);
}

}  // namespace
}  // namespace crisp::runtime::test

namespace crisp::runtime::test {
namespace {

// A crash inside RunPodSandbox before its record was written leaves namespaces, pod files and a
// pod-init behind: recovery removes them all.
TEST_F(RuntimeTest, RecoveryRemovesHalfMadeSandboxes) {
  auto before = resource_counts();
  auto config = sandbox_config("pod-halfmade");
  config.pid = NamespaceMode::kPod;
  auto pod = runtime_->run_sandbox(config);
  pid_t init = runtime_->sandbox_status(pod).pod_init_pid;
  ASSERT_GT(init, 0);
  runtime_.reset();
  ASSERT_EQ(::unlink((root_ + "/sandboxes/" + pod + ".json").c_str()), 0);  // as if never written
  restart_runtime();
  EXPECT_TRUE(runtime_->list_sandboxes().empty());
  EXPECT_FALSE(std::filesystem::exists(state_ + "/sandboxes/" + pod));
  // Gone, or a zombie waiting for init to reap it.
  auto stat = read_file_if_exists("/proc/" + std::to_string(init) + "/stat").value_or("");
  EXPECT_TRUE(stat.empty() || stat.find(") Z ") != std::string::npos) << stat;
  EXPECT_EQ(resource_counts(), before);
}

}  // namespace
}  // namespace crisp::runtime::test

namespace crisp::runtime::test {
namespace {

// RunPodSandbox failing late (pod-init cannot be executed) rolls back namespaces, files, shm.
TEST_F(RuntimeTest, FailedRunPodSandboxLeavesNothing) {
  RuntimeOptions options;
  options.root_dir = dir_ + "/r2";
  options.state_dir = dir_ + "/s2";
  options.monitor_path = "/nonexistent/crisp-monitor";
  Runtime broken(options);
  broken.recover();
  auto config = sandbox_config("pod-broken");
  config.pid = NamespaceMode::kPod;
  try {
    broken.run_sandbox(config);
    FAIL() << "ran a pod without a pod-init";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pod-init"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(broken.list_sandboxes().empty());
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/s2/sandboxes"));
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/r2/sandboxes"));
  std::string mountinfo = read_file("/proc/self/mountinfo");
  EXPECT_EQ(mountinfo.find(dir_ + "/s2"), std::string::npos);
  // The name is free again.
  config.pid = NamespaceMode::kContainer;
  auto pod = broken.run_sandbox(config);
  broken.remove_sandbox(pod);
}

}  // namespace
}  // namespace crisp::runtime::test
