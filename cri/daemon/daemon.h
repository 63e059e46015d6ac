#pragma once
// crispd's life: claim the socket, start the libraries, serve the CRI until SIGTERM/SIGINT,
// shut down without touching running containers.
#include <functional>
#include <string>

#include "cri/daemon/config.h"

namespace crisp::cri {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread; call before any thread starts so every
// thread inherits the mask and Daemon::run() can sigwait() for them.
void block_daemon_signals();

class Daemon {
 public:
  // config_path: the file to re-read on SIGHUP. load: how to build the config again on SIGHUP
  // (file, drop-ins and flags; empty: load_config(config_path)). SIGHUP applies what can change
  // live (cri/daemon/config_reload.h).
  Daemon(Config config, std::string config_path, std::function<Config()> load = {});
  int run();

 private:
  Config config_;
  std::string config_path_;
  std::function<Config()> load_;
};

}  // namespace crisp::cri
