#pragma once
// What every CRI handler can reach: the effective config and the libraries crispd runs.
// Owned by the Daemon (cri/daemon/daemon.cc); handlers hold a reference.
#include <mutex>
#include <string>

#include "cri/daemon/config.h"

namespace crisp::runtime {
class Runtime;
}
namespace crisp::image {
class ImageService;
}
namespace crisp::network {
class PodNetwork;
}
namespace crisp::streaming {
class Server;
}

namespace crisp::cri {

struct Context {
  Config config;
  std::string cgroup_driver;  // what the runtime uses: "cgroupfs" or "systemd"
  std::string cgroup_version; // "v1" or "v2"

  crisp::runtime::Runtime* runtime = nullptr;   // container engine
  crisp::image::ImageService* images = nullptr; // image service (store, pulls, snapshots)
  crisp::network::PodNetwork* network = nullptr;  // pod networking
  crisp::streaming::Server* streaming = nullptr;  // exec/attach/port-forward URLs

  std::mutex mu;         // guards pod_cidr and live_config
  std::string pod_cidr;  // last UpdateRuntimeConfig pod CIDR (empty: the configured one)
  Config live_config;    // `config` plus what SIGHUP reloads applied since (read it with effective_config)
};

// NetworkReady as the Status RPC reports it.
struct NetworkState {
  bool ready = false;
  std::string reason;
  std::string message;
};
NetworkState network_state(Context& ctx);

// The config in effect now (the start-up config with the options SIGHUP reloaded), a copy.
Config effective_config(Context& ctx);

// crisp's version (from CMake's project version).
const char* crisp_version();

}  // namespace crisp::cri
