#include "cri/daemon/daemon.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

#include "cri/context.h"
#include "cri/daemon/logging.h"
#include "cri/daemon/socket_guard.h"
#include "cri/image_service/image_service.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

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

Daemon::Daemon(Config config, std::string config_path)
    : config_(std::move(config)), config_path_(std::move(config_path)) {}

int Daemon::run() {
  Context ctx;
  ctx.config = config_;
  SocketGuard socket(config_.socket, config_.state);
  make_dirs(config_.root, 0711);
  detect_cgroups(ctx);
  spdlog::info("crispd {} starting: socket {}, root {}, state {}, cgroup driver {} ({})", crisp_version(),
               config_.socket, config_.root, config_.state, ctx.cgroup_driver, ctx.cgroup_version);

  // Libraries, in dependency order. Each is destroyed after the server stops.
  // [image service]
  // [runtime]
  // [network]

  RuntimeServiceImpl runtime_service(ctx);
  ImageServiceImpl image_service(ctx);

  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + config_.socket, grpc::InsecureServerCredentials());
  builder.RegisterService(&runtime_service);
  builder.RegisterService(&image_service);
  builder.SetMaxReceiveMessageSize(16 * 1024 * 1024);
  builder.SetMaxSendMessageSize(16 * 1024 * 1024);
  mode_t old_umask = ::umask(0117);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ::umask(old_umask);
  if (!server) throw Error(ErrorKind::kUnavailable, "cannot serve gRPC on unix://" + config_.socket);
  socket.restrict_permissions();
  spdlog::info("serving CRI v1 on unix://{}", config_.socket);

  sigset_t set = daemon_signals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      try {
        Config fresh = load_config(config_path_, false);
        set_log_level(fresh.log_level);
        spdlog::info("SIGHUP: log level now {}", fresh.log_level);
      } catch (const std::exception& e) {
        spdlog::error("SIGHUP: keeping the current config: {}", e.what());
      }
      continue;
    }
    spdlog::info("received {}, shutting down (containers keep running)", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  // In-flight calls (event streams above all) are cancelled at once; the kubelet retries.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  server->Wait();
  spdlog::info("crispd stopped");
  return 0;
}

}  // namespace crisp::cri
