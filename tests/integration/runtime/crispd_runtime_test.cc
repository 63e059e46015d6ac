// Pods and containers through a real crispd over gRPC, with images pulled from the test registry:
// the crictl flows (runp/create/start/ps/pods/logs/exec -s/inspect/stop/rm/stopp/rmp), errors,
// events, and a SIGKILL of crispd with pods running.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
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

class CrispdRuntimeTest : public StandardImagesSuite {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    CrispdOptions options;
    options.config_toml = "[runtime]\nmonitor_path = \"" + runtime::test::monitor_binary() + "\"\n";
    crispd_ = std::make_unique<CrispdFixture>(options);
    logs_ = crispd_->dir() + "/pod-logs";
  }

  void TearDown() override {
    // Remove what the test made through the API; the fixture kills and unmounts the rest.
    if (crispd_ && crispd_->running()) remove_all_pods(crispd_->runtime());
    crispd_.reset();
  }

  void pull(const std::string& ref) { crisp::test::pull(crispd_->images(), ref); }

  v1::PodSandboxConfig pod_config(const std::string& name) {
    auto c = crisp::test::pod_config(name, logs_);
    (*c.mutable_labels())["app"] = name;
    return c;
  }

  std::string runp(const std::string& name) { return run_pod(crispd_->runtime(), pod_config(name)); }

  grpc::Status create(const std::string& pod, const std::string& name, const std::string& image,
                      const std::vector<std::string>& command, std::string* id) {
    return try_create_container(crispd_->runtime(), pod, container_config(name, image, command), id);
  }

  std::string create_and_start(const std::string& pod, const std::string& name, const std::string& image,
                               const std::vector<std::string>& command) {
    return start_container(crispd_->runtime(), pod, container_config(name, image, command));
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

  v1::ContainerStatus wait_exited(const std::string& id) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    for (;;) {
      auto s = status_of(id).status();
      if (s.state() == v1::CONTAINER_EXITED || std::chrono::steady_clock::now() > deadline) return s;
      std::this_thread::sleep_for(20ms);
    }
  }

  v1::ExecSyncResponse exec(const std::string& id, const std::vector<std::string>& cmd, int64_t timeout,
                            grpc::Status* status_out = nullptr) {
    return crisp::test::exec(crispd_->runtime(), id, cmd, timeout, status_out);
  }

  std::vector<v1::Container> list_containers(const v1::ContainerFilter& filter = {}) {
    v1::ListContainersRequest req;
    *req.mutable_filter() = filter;
    v1::ListContainersResponse resp;
    auto ctx = client_context();
    EXPECT_TRUE(crispd_->runtime().ListContainers(ctx.get(), req, &resp).ok());
    return {resp.containers().begin(), resp.containers().end()};
  }

  std::string create_and_start_with(const std::string& pod, const std::string& name,
                                    const std::function<void(v1::ContainerConfig&)>& customize) {
    auto c = container_config(name, images_->busybox.ref, {});
    customize(c);
    return start_container(crispd_->runtime(), pod, c);
  }

  pid_t pid_of(const std::string& id) {
    auto info = nlohmann::json::parse(status_of(id, true).info().at("info"));
    return info["pid"].get<pid_t>();
  }

  std::unique_ptr<CrispdFixture> crispd_;
  std::string logs_;
};


TEST_F(CrispdRuntimeTest, CrictlFlow) {
  pull(images_->busybox.ref);
  auto pod = runp("flow");
  ASSERT_FALSE(pod.empty());

  std::string done = create_and_start(pod, "hello", images_->busybox.ref, {"sh", "-c", "echo hello; hostname; id -u"});
  auto s = wait_exited(done);
  EXPECT_EQ(s.exit_code(), 0);
  EXPECT_EQ(s.reason(), "Completed");
  EXPECT_EQ(s.log_path(), logs_ + "/flow/hello.log");
  EXPECT_EQ(runtime::test::log_text(runtime::test::read_cri_log(s.log_path())), "hello\nflow\n0\n");
  EXPECT_EQ(s.image().image(), images_->busybox.ref);
  EXPECT_FALSE(s.image_ref().empty());
  EXPECT_EQ(s.image_id().rfind("sha256:", 0), 0u);

  std::string sleeper = create_and_start(pod, "sleeper", images_->busybox.ref, {"sleep", "1000"});
  auto verbose = status_of(sleeper, true);
  EXPECT_EQ(verbose.status().state(), v1::CONTAINER_RUNNING);
  auto info = nlohmann::json::parse(verbose.info().at("info"));
  EXPECT_GT(info["pid"].get<int>(), 0);
  EXPECT_NE(info["spec"].get<std::string>().find("arg sleep"), std::string::npos);

  auto out = exec(sleeper, {"sh", "-c", "echo out; echo err >&2; exit 3"}, 10);
  EXPECT_EQ(out.stdout(), "out\n");
  EXPECT_EQ(out.stderr(), "err\n");
  EXPECT_EQ(out.exit_code(), 3);
  grpc::Status timeout_status;
  exec(sleeper, {"sleep", "10"}, 1, &timeout_status);
  EXPECT_EQ(timeout_status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << timeout_status.error_message();

  v1::ContainerFilter running;
  running.mutable_state()->set_state(v1::CONTAINER_RUNNING);
  auto list = list_containers(running);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id(), sleeper);
  EXPECT_EQ(list_containers().size(), 2u);

  v1::PodSandboxStatusRequest pod_req;
  pod_req.set_pod_sandbox_id(pod);
  pod_req.set_verbose(true);
  v1::PodSandboxStatusResponse pod_status;
  auto ctx = client_context();
  ASSERT_TRUE(crispd_->runtime().PodSandboxStatus(ctx.get(), pod_req, &pod_status).ok());
  EXPECT_EQ(pod_status.status().state(), v1::SANDBOX_READY);
  EXPECT_EQ(pod_status.status().metadata().name(), "flow");
  EXPECT_EQ(pod_status.containers_statuses_size(), 2);

  v1::StopContainerRequest stop;
  stop.set_container_id(sleeper);
  stop.set_timeout(1);
  v1::StopContainerResponse stop_resp;
  ctx = client_context();
  ASSERT_TRUE(crispd_->runtime().StopContainer(ctx.get(), stop, &stop_resp).ok());
  ctx = client_context();
  ASSERT_TRUE(crispd_->runtime().StopContainer(ctx.get(), stop, &stop_resp).ok());  // idempotent
  EXPECT_EQ(status_of(sleeper).status().state(), v1::CONTAINER_EXITED);

  v1::RemoveContainerRequest rm;
  rm.set_container_id(sleeper);
  v1::RemoveContainerResponse rm_resp;
  ctx = client_context();
  ASSERT_TRUE(crispd_->runtime().RemoveContainer(ctx.get(), rm, &rm_resp).ok());
  ctx = client_context();
  ASSERT_TRUE(crispd_->runtime().RemoveContainer(ctx.get(), rm, &rm_resp).ok());
  v1::ContainerStatusRequest gone;
  gone.set_container_id(sleeper);
  v1::ContainerStatusResponse gone_resp;
  ctx = client_context();
  EXPECT_EQ(crispd_->runtime().ContainerStatus(ctx.get(), gone, &gone_resp).error_code(), grpc::StatusCode::NOT_FOUND);

  ASSERT_TRUE(try_stop_pod(crispd_->runtime(), pod).ok());
  ASSERT_TRUE(try_remove_pod(crispd_->runtime(), pod).ok());
  ASSERT_TRUE(try_remove_pod(crispd_->runtime(), pod).ok());  // idempotent
  EXPECT_TRUE(list_containers().empty());
}

TEST_F(CrispdRuntimeTest, ImageConfigIsApplied) {
  pull(images_->config.ref);
  auto pod = runp("configured");
  std::string id;
  ASSERT_TRUE(create(pod, "app", images_->config.ref, {}, &id).ok());
  ASSERT_TRUE(try_start_container(crispd_->runtime(), id).ok());
  auto s = status_of(id).status();
  ASSERT_TRUE(runtime::test::wait_file_contains(s.log_path(), "configured"));
  auto out = exec(id, {"sh", "-c", "id; pwd; echo $FOO"}, 10);
  EXPECT_EQ(out.stdout(), "uid=1000(app) gid=1000(app) groups=1000(app)\n/work\nbar\n");
  EXPECT_EQ(s.user().linux().uid(), 1000);
}

TEST_F(CrispdRuntimeTest, ImageStopSignalIsUsed) {
  pull(images_->busybox.ref);
  pull(images_->config.ref);
  auto pod = runp("stopsignal");
  // Exits 42 on SIGUSR1 (the config image's StopSignal), ignores SIGTERM.
  std::string id;
  auto c = container_config("usr1", images_->config.ref, {});
  c.add_args("trap 'exit 42' USR1; trap '' TERM; echo ready; while true; do sleep 0.1; done");
  ASSERT_TRUE(try_create_container(crispd_->runtime(), pod, c, &id).ok());
  ASSERT_TRUE(try_start_container(crispd_->runtime(), id).ok());
  ASSERT_TRUE(runtime::test::wait_file_contains(status_of(id).status().log_path(), "ready"));
  v1::StopContainerRequest stop;
  stop.set_container_id(id);
  stop.set_timeout(10);
  v1::StopContainerResponse stop_resp;
  auto t0 = std::chrono::steady_clock::now();
  auto ctx = client_context();
  ASSERT_TRUE(crispd_->runtime().StopContainer(ctx.get(), stop, &stop_resp).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(status_of(id).status().exit_code(), 42);
}

TEST_F(CrispdRuntimeTest, ErrorsAreClear) {
  pull(images_->busybox.ref);
  auto pod = runp("errors");
  std::string id;
  auto missing_image = create(pod, "a", registry_->host() + "/crisp-test/nope:latest", {"true"}, &id);
  EXPECT_EQ(missing_image.error_code(), grpc::StatusCode::NOT_FOUND) << missing_image.error_message();
  auto missing_cmd = create(pod, "b", images_->busybox.ref, {"/no/such/binary"}, &id);
  EXPECT_EQ(missing_cmd.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << missing_cmd.error_message();
  EXPECT_NE(missing_cmd.error_message().find("/no/such/binary"), std::string::npos);
  auto unknown_pod = create("0123456789", "c", images_->busybox.ref, {"true"}, &id);
  EXPECT_EQ(unknown_pod.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(try_start_container(crispd_->runtime(), "does-not-exist").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(list_containers().empty());

  // RuntimeClass handlers: "crisp" is served, others are refused before anything is made.
  auto handler_pod = pod_config("handler");
  auto unknown_handler = try_run_pod(crispd_->runtime(), handler_pod, nullptr, "kata");
  EXPECT_EQ(unknown_handler.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(unknown_handler.error_message().find("kata"), std::string::npos);
  v1::ListPodSandboxResponse pods;
  auto ctx = client_context();
  ASSERT_TRUE(crispd_->runtime().ListPodSandbox(ctx.get(), {}, &pods).ok());
  EXPECT_EQ(pods.items_size(), 1);  // only "errors"
  auto crisp_handler = try_run_pod(crispd_->runtime(), handler_pod, nullptr, "crisp");
  EXPECT_TRUE(crisp_handler.ok()) << crisp_handler.error_message();
}

TEST_F(CrispdRuntimeTest, EventsAreStreamed) {
  pull(images_->busybox.ref);
  auto ctx = client_context(30s);
  v1::GetEventsRequest req;
  auto reader = crispd_->runtime().GetContainerEvents(ctx.get(), req);
  std::this_thread::sleep_for(200ms);  // let the stream subscribe
  auto pod = runp("events");
  auto id = create_and_start(pod, "c", images_->busybox.ref, {"true"});
  std::vector<std::pair<std::string, v1::ContainerEventType>> seen;
  v1::ContainerEventResponse event;
  while (seen.size() < 5 && reader->Read(&event)) {
    seen.emplace_back(event.container_id(), event.container_event_type());
    if (event.container_id() == id) {
      EXPECT_EQ(event.pod_sandbox_status().id(), pod);
    }
  }
  ctx->TryCancel();
  std::vector<std::pair<std::string, v1::ContainerEventType>> expected = {
      {pod, v1::CONTAINER_CREATED_EVENT}, {pod, v1::CONTAINER_STARTED_EVENT}, {id, v1::CONTAINER_CREATED_EVENT},
      {id, v1::CONTAINER_STARTED_EVENT},  {id, v1::CONTAINER_STOPPED_EVENT}};
  EXPECT_EQ(seen, expected);
}

// Counts of what pods may leak, below the fixture's directory (mounts, files) and processes.
struct Counts {
  size_t mounts = 0, state_files = 0, processes = 0;
  bool operator==(const Counts&) const = default;
};

Counts count_resources(const std::string& dir) {
  Counts c;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(" " + dir + "/") != std::string::npos) ++c.mounts;
  }
  std::error_code ec;
  for (const char* sub : {"/root/sandboxes", "/root/containers", "/state"}) {
    for (auto it = std::filesystem::recursive_directory_iterator(dir + sub, ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      ++c.state_files;
    }
  }
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto exe = std::filesystem::read_symlink(entry.path() / "exe", ec);
    if (!ec && exe.string() == runtime::test::monitor_binary()) ++c.processes;
  }
  return c;
}

std::string ns_of(pid_t pid, const char* kind) {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/" + kind, ec).string();
}

std::vector<std::string> cmd(std::initializer_list<const char*> words) { return {words.begin(), words.end()}; }

TEST_F(CrispdRuntimeTest, PodAndContainerFeatures) {
  pull(images_->busybox.ref);
  auto features = pod_config("features");
  features.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::POD);
  std::string pod;
  ASSERT_TRUE(try_run_pod(crispd_->runtime(), features, &pod).ok());
  auto pod_pid = [](v1::ContainerConfig& c) {
    c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::POD);
  };
  auto with_cmd = [&](std::vector<std::string> argv) {
    return [argv, pod_pid](v1::ContainerConfig& c) {
      pod_pid(c);
      for (const auto& a : argv) c.add_command(a);
    };
  };

  // hostname, env, id, pwd as configured.
  auto who = create_and_start_with(pod, "who", [&](v1::ContainerConfig& c) {
    with_cmd(cmd({"sh", "-c", "hostname; echo $FOO; id; pwd"}))(c);
    auto* env = c.add_envs();
    env->set_key("FOO");
    env->set_value("from cri");
    c.set_working_dir("/tmp");
    c.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(1000);
  });
  EXPECT_EQ(runtime::test::log_text(runtime::test::read_cri_log(wait_exited(who).log_path())),
            "features\nfrom cri\nuid=1000(app) gid=1000(app) groups=1000(app)\n/tmp\n");

  // Two containers share ipc, uts, net and (pid POD) pid, not mnt; each sees the other's process.
  auto a = create_and_start_with(pod, "a", with_cmd(cmd({"sleep", "1001"})));
  auto b = create_and_start_with(pod, "b", with_cmd(cmd({"sleep", "1002"})));
  pid_t pa = pid_of(a), pb = pid_of(b);
  for (const char* kind : {"ipc", "uts", "net", "pid"}) EXPECT_EQ(ns_of(pa, kind), ns_of(pb, kind)) << kind;
  EXPECT_NE(ns_of(pa, "mnt"), ns_of(pb, "mnt"));
  EXPECT_NE(ns_of(pa, "net"), ns_of(::getpid(), "net"));
  auto ps = exec(a, {"ps", "-o", "args"}, 10);
  EXPECT_NE(ps.stdout().find("sleep 1002"), std::string::npos) << ps.stdout();

  // A bind mount is visible and writable; a read-only one cannot be written.
  std::string rw = crispd_->dir() + "/host-rw", ro = crispd_->dir() + "/host-ro";
  make_dirs(rw);
  make_dirs(ro);
  atomic_write_file(ro + "/hello", "hello from the host\n");
  auto mounts = create_and_start_with(pod, "mounts", [&](v1::ContainerConfig& c) {
    with_cmd(cmd({"sh", "-c", "cat /ro/hello; echo x > /rw/out; touch /ro/x 2>/dev/null || echo ro-refused"}))(c);
    auto* m1 = c.add_mounts();
    m1->set_container_path("/rw");
    m1->set_host_path(rw);
    auto* m2 = c.add_mounts();
    m2->set_container_path("/ro");
    m2->set_host_path(ro);
    m2->set_readonly(true);
  });
  EXPECT_EQ(runtime::test::log_text(runtime::test::read_cri_log(wait_exited(mounts).log_path())),
            "hello from the host\nro-refused\n");
  EXPECT_EQ(read_file(rw + "/out"), "x\n");

  // A long line is split into partial entries; a tty container has a terminal; exit code 3.
  auto longline = create_and_start_with(pod, "long", with_cmd(cmd({"sh", "-c", "head -c 20000 /dev/zero | tr '\\0' b; echo"})));
  auto lines = runtime::test::read_cri_log(wait_exited(longline).log_path());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].tag, 'P');
  EXPECT_EQ(lines[1].tag, 'F');
  EXPECT_EQ(lines[0].text.size() + lines[1].text.size(), 20000u);
  auto tty = create_and_start_with(pod, "tty", [&](v1::ContainerConfig& c) {
    with_cmd(cmd({"sh", "-c", "test -t 1 && echo tty-yes"}))(c);
    c.set_tty(true);
  });
  EXPECT_NE(runtime::test::log_text(runtime::test::read_cri_log(wait_exited(tty).log_path())).find("tty-yes"),
            std::string::npos);
  auto three = create_and_start_with(pod, "three", with_cmd(cmd({"sh", "-c", "exit 3"})));
  auto s = wait_exited(three);
  EXPECT_EQ(s.exit_code(), 3);
  EXPECT_EQ(s.reason(), "Error");
}

TEST_F(CrispdRuntimeTest, HundredPodsLeaveNothingBehind) {
  pull(images_->busybox.ref);
  // One pod first, so that lazily made directories exist in the "before" count.
  auto warm = runp("warm");
  auto before = count_resources(crispd_->dir());
  for (int i = 0; i < 100; ++i) {
    auto pod = runp("loop-" + std::to_string(i));
    auto id = create_and_start(pod, "c", images_->busybox.ref, {"sleep", "1000"});
    ASSERT_TRUE(try_stop_pod(crispd_->runtime(), pod).ok());
    ASSERT_TRUE(try_remove_pod(crispd_->runtime(), pod).ok());
  }
  EXPECT_EQ(count_resources(crispd_->dir()), before);
  EXPECT_TRUE(list_containers().empty());
}

TEST_F(CrispdRuntimeTest, SigkillOfCrispdLosesNothing) {
  pull(images_->busybox.ref);
  std::vector<std::string> pods;
  std::vector<std::string> containers;
  for (int i = 0; i < 5; ++i) {
    auto pod = runp("crash-" + std::to_string(i));
    pods.push_back(pod);
    containers.push_back(create_and_start(pod, "ticker", images_->busybox.ref,
                                          {"sh", "-c", "while true; do echo tick; sleep 0.1; done"}));
    containers.push_back(create_and_start(pod, "sleeper", images_->busybox.ref, {"sleep", "1000"}));
  }
  auto exits = create_and_start(pods[0], "exits", images_->busybox.ref, {"sh", "-c", "sleep 1; exit 3"});
  crispd_->kill9();
  std::this_thread::sleep_for(1500ms);
  crispd_->start();

  v1::ListPodSandboxResponse pod_list;
  auto ctx = client_context();
  ASSERT_TRUE(crispd_->runtime().ListPodSandbox(ctx.get(), {}, &pod_list).ok());
  EXPECT_EQ(pod_list.items_size(), 5);
  for (const auto& p : pod_list.items()) {
    EXPECT_EQ(p.state(), v1::SANDBOX_READY);
  }
  auto list = list_containers();
  EXPECT_EQ(list.size(), 11u);
  for (const auto& id : containers) {
    EXPECT_EQ(status_of(id).status().state(), v1::CONTAINER_RUNNING) << id;
  }
  auto e = status_of(exits).status();
  EXPECT_EQ(e.state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(e.exit_code(), 3);
  auto log = status_of(containers[0]).status().log_path();
  auto size = read_file(log).size();
  std::this_thread::sleep_for(400ms);
  EXPECT_GT(read_file(log).size(), size);
  EXPECT_EQ(exec(containers[1], {"echo", "alive"}, 10).stdout(), "alive\n");
}

}  // namespace
}  // namespace crisp::test
