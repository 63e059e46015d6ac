#include "cri/daemon/daemon.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <thread>

#include "cri/admin/admin_service.h"
#include "cri/context.h"
#include "cri/daemon/config_reload.h"
#include "cri/daemon/health_check.h"
#include "cri/daemon/logging.h"
#include "cri/daemon/socket_guard.h"
#include "cri/daemon/systemd_notify.h"
#include "cri/metrics/crispd_metrics.h"
#include "cri/metrics/metrics_server.h"
#include "cri/image_service/image_service.h"
#include "cri/runtime_service/runtime_service.h"
#include "cri/runtime_service/stream_backend.h"
#include "cri/streaming/server.h"
#include "network/network.h"
#include "image/image_service.h"
#include "runtime/base/cleanup.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/runtime.h"

namespace crisp::cri {

namespace {

sigset_t daemon_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

// cgroupfs on whatever hierarchy the host mounts; systemd only when asked.
void detect_cgroups(Context& ctx) {
  struct stat st;
  ctx.cgroup_version = ::stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0 ? "v2" : "v1";
  ctx.cgroup_driver = ctx.config.cgroup_driver == "systemd" ? "systemd" : "cgroupfs";
}

}  // namespace

void block_daemon_signals() {
  sigset_t set = daemon_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

Daemon::Daemon(Config config, std::string config_path, std::function<Config()> load)
    : config_(std::move(config)), config_path_(std::move(config_path)), load_(std::move(load)) {
  if (!load_) load_ = [path = config_path_] { return load_config(path, false); };
}

int Daemon::run() {
  SystemdNotifier systemd;  // first: it takes WATCHDOG_* out of the environment before threads start
  Context ctx;
  ctx.config = config_;
  ctx.live_config = config_;
  SocketGuard socket(config_.socket, config_.state);
  make_dirs(config_.root, 0711);
  detect_cgroups(ctx);
  spdlog::info("crispd {} starting: socket {}, root {}, state {}, cgroup driver {} ({})", crisp_version(),
               config_.socket, config_.root, config_.state, ctx.cgroup_driver, ctx.cgroup_version);

  // Libraries, in dependency order. Each is destroyed after the server stops.
  // [image service]
  crisp::image::ImageServiceOptions image_options;
  image_options.root = config_.root;
  image_options.registry_config_dir = config_.registry_config_dir;
  image_options.max_concurrent_downloads = config_.max_concurrent_downloads;
  image_options.pull_progress_timeout_seconds = config_.pull_progress_timeout_seconds;
  crisp::image::ImageService images(image_options);
  ctx.images = &images;
  // [runtime]
  crisp::runtime::RuntimeOptions runtime_options;
  runtime_options.root_dir = config_.root;
  runtime_options.state_dir = config_.state;
  runtime_options.monitor_path = config_.monitor_path;
  if (runtime_options.monitor_path.empty()) {  // crisp-monitor next to crispd
    char exe[4096] = {};
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    std::string dir = n > 0 ? std::string(exe, static_cast<size_t>(n)) : std::string("/usr/local/bin/crispd");
    runtime_options.monitor_path = dir.substr(0, dir.rfind('/')) + "/crisp-monitor";
  }
  runtime_options.max_log_line = static_cast<uint32_t>(config_.max_container_log_line_size);
  runtime_options.cgroup_driver = ctx.cgroup_driver;
  runtime_options.release_rootfs = [&images](const std::string& id) { images.remove_rootfs(id); };
  crisp::runtime::Runtime runtime(runtime_options);
  runtime.recover();
  ctx.runtime = &runtime;
  spdlog::info("runtime: monitor {}, {} sandboxes and {} containers recovered", runtime_options.monitor_path,
               runtime.list_sandboxes().size(), runtime.list_containers().size());
  // [network]
  crisp::network::NetworkOptions network_options;
  network_options.mode = crisp::network::parse_network_mode(config_.network_mode);
  network_options.pod_cidr = config_.pod_cidr;
  network_options.cni_conf_dir = config_.cni_conf_dir;
  network_options.cni_bin_dirs = config_.cni_bin_dirs;
  network_options.state_dir = config_.state + "/network";
  network_options.bridge_name = config_.bridge;
  network_options.nft_table = config_.nft_table;
  crisp::network::PodNetwork network(network_options);
  {
    // Pods that are gone (or stopped) give back their addresses and rules.
    std::vector<std::string> live;
    for (const auto& sb : runtime.list_sandboxes())
      if (sb.state == crisp::runtime::SandboxState::kReady && !sb.netns_path.empty()) live.push_back(sb.id);
    network.recover(live);
    // A crash between a pod's network setup and its sandbox record: the network is complete, so
    // finish the record as RunPodSandbox would have (the kubelet then sees the pod's IPs).
    for (const auto& sb : runtime.list_sandboxes()) {
      if (sb.state != crisp::runtime::SandboxState::kReady || sb.netns_path.empty() || !sb.ip.empty()) continue;
      if (auto result = network.recorded_result(sb.id)) {
        runtime.set_sandbox_network(sb.id, result->ip, result->additional_ips);
        spdlog::info("sandbox {}: network set up before a crash, IP {} recorded now", sb.id, result->ip);
      }
    }
  }
  ctx.network = &network;
  // [streaming]
  RuntimeStreamBackend stream_backend(runtime, runtime_options.monitor_path, config_.state);
  crisp::streaming::ServerOptions stream_options;
  stream_options.address = config_.stream_address;
  stream_options.token_timeout = std::chrono::seconds(config_.stream_token_timeout_seconds);
  crisp::streaming::Server streaming(stream_options, stream_backend);
  streaming.start();
  ctx.streaming = &streaming;
  spdlog::info("streaming server on {}", streaming.base_url());
  // [metrics] GET /metrics (Prometheus text format), off when metrics.address is empty.
  std::unique_ptr<crisp::metrics::MetricsServer> metrics;
  if (!config_.metrics_address.empty()) {
    metrics = std::make_unique<crisp::metrics::MetricsServer>(
        config_.metrics_address, [&ctx] { return crisp::metrics::scrape_crispd_metrics(ctx, crisp_version()); });
    metrics->start();
    spdlog::info("metrics on http://{}/metrics", metrics->address());
  }

  RuntimeServiceImpl runtime_service(ctx);
  ImageServiceImpl image_service(ctx);
  AdminServiceImpl admin_service(ctx);  // crisp.admin.v1 (the `crisp` CLI)

  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + config_.socket, grpc::InsecureServerCredentials());
  builder.RegisterService(&runtime_service);
  builder.RegisterService(&image_service);
  builder.RegisterService(&admin_service);
  builder.SetMaxReceiveMessageSize(16 * 1024 * 1024);
  builder.SetMaxSendMessageSize(16 * 1024 * 1024);
  mode_t old_umask = ::umask(0117);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ::umask(old_umask);
  if (!server) throw Error(ErrorKind::kUnavailable, "cannot serve gRPC on unix://" + config_.socket);
  socket.restrict_permissions();
  spdlog::info("serving CRI v1 on unix://{}", config_.socket);
  systemd.ready("serving CRI v1 on unix://" + config_.socket);
  CriHealthCheck health(config_.socket);
  systemd.start_watchdog([&health](std::chrono::milliseconds deadline) { return health(deadline); });
  Cleanup stop_watchdog([&systemd] { systemd.stop_watchdog(); });  // before `health` goes

  Config running = config_;  // what SIGHUP compares a fresh load with
  sigset_t set = daemon_signals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      systemd.reloading();
      try {
        apply_config_reload(running, load_(), ReloadTargets{&images, &network});
        std::lock_guard<std::mutex> lock(ctx.mu);
        ctx.live_config = running;
      } catch (const std::exception& e) {
        spdlog::error("SIGHUP: keeping the current config: {}", e.what());
      }
      systemd.ready("serving CRI v1 on unix://" + config_.socket);
      continue;
    }
    spdlog::info("received {}, shutting down (containers keep running)", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    systemd.stopping("shutting down (containers keep running)");
    break;
  }
  if (metrics) metrics->stop();
  // A handler stuck in the kernel (a cgroup that will not drain, a hung mount) must not keep
  // crispd from stopping: every record is crash-safe, so after a grace period exit as a crash would.
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::seconds(10));
    spdlog::error("RPCs still running 10 s after shutdown began; exiting without waiting for them");
    spdlog::default_logger()->flush();
    ::_exit(0);
  }).detach();
  // In-flight calls (event streams above all) are cancelled at once; the kubelet retries.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  server->Wait();
  spdlog::info("crispd stopped");
  return 0;
}

}  // namespace crisp::cri
