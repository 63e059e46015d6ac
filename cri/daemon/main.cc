// crispd: the crisp CRI daemon. Flags override the config file; see `crispd config default`.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <iostream>

#include "cri/context.h"
#include "cri/daemon/config.h"
#include "cri/daemon/daemon.h"
#include "cri/daemon/logging.h"
#include "runtime/base/error.h"

namespace crisp::cri {
const char* crisp_version() { return CRISP_VERSION; }
}  // namespace crisp::cri

int main(int argc, char** argv) {
  using crisp::cri::Config;
  CLI::App app{"crispd — a Kubernetes CRI v1 container runtime", "crispd"};
  app.set_version_flag("--version", std::string("crispd ") + CRISP_VERSION);

  std::string config_path = crisp::cri::kDefaultConfigPath;
  std::string socket, root, state, log_level, log_format, registry_dir, pod_cidr, cni_conf_dir, stream_address,
      network_mode, cgroup_driver, bridge, nft_table;
  std::vector<std::string> cni_bin_dirs;
  auto* config_flag = app.add_option("--config", config_path, "Config file (TOML)");
  app.add_option("--socket", socket, "CRI unix socket path");
  app.add_option("--root", root, "Persistent data directory");
  app.add_option("--state", state, "Runtime state directory");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|critical|off");
  app.add_option("--log-format", log_format, "text|json");
  app.add_option("--cgroup-driver", cgroup_driver, "auto|cgroupfs|systemd");
  app.add_option("--registry-config-dir", registry_dir, "Registry hosts.toml directory");
  app.add_option("--network-mode", network_mode, "auto|builtin|cni");
  app.add_option("--pod-cidr", pod_cidr, "Pod CIDR of the built-in bridge network");
  app.add_option("--cni-conf-dir", cni_conf_dir, "CNI config directory");
  app.add_option("--cni-bin-dir", cni_bin_dirs, "CNI plugin directory (repeatable)");
  app.add_option("--bridge", bridge, "Bridge of the built-in pod network");
  app.add_option("--nft-table", nft_table, "nftables table of the built-in pod network");
  app.add_option("--stream-address", stream_address, "HOST:PORT of the streaming server");

  auto* config_cmd = app.add_subcommand("config", "Print configuration");
  auto* config_default = config_cmd->add_subcommand("default", "Print the default config with comments");
  auto* config_dump = config_cmd->add_subcommand("dump", "Print the effective (merged) config");
  config_cmd->require_subcommand(1);

  CLI11_PARSE(app, argc, argv);

  if (*config_default) {
    std::cout << crisp::cri::default_config_toml();
    return 0;
  }
  try {
    Config config = crisp::cri::load_config(config_path, config_flag->count() > 0);
    auto set = [](std::string& field, const std::string& flag) {
      if (!flag.empty()) field = flag;
    };
    set(config.socket, socket);
    set(config.root, root);
    set(config.state, state);
    set(config.log_level, log_level);
    set(config.log_format, log_format);
    set(config.cgroup_driver, cgroup_driver);
    set(config.registry_config_dir, registry_dir);
    set(config.network_mode, network_mode);
    set(config.pod_cidr, pod_cidr);
    set(config.cni_conf_dir, cni_conf_dir);
    set(config.stream_address, stream_address);
    set(config.bridge, bridge);
    set(config.nft_table, nft_table);
    if (!cni_bin_dirs.empty()) config.cni_bin_dirs = cni_bin_dirs;
    crisp::cri::validate_config(config);

    if (*config_dump) {
      std::cout << crisp::cri::config_to_toml(config);
      return 0;
    }
    crisp::cri::block_daemon_signals();
    crisp::cri::setup_logging(config.log_level, config.log_format);
    return crisp::cri::Daemon(config, config_path).run();
  } catch (const crisp::Error& e) {
    std::cerr << "crispd: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "crispd: " << e.what() << "\n";
    return 1;
  }
}
