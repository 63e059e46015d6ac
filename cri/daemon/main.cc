// crispd: the crisp CRI daemon. Flags override the config file; see `crispd config default`.
// Every config option is also a flag: both come from the one option table in config.cc.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <iostream>
#include <map>

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
  auto* config_flag = app.add_option("--config", config_path, "Config file (TOML)");
  // One flag per option of the table; values by config key (std::map: stable addresses for CLI11).
  std::map<std::string, std::vector<std::string>> flag_values;
  for (const auto& opt : crisp::cri::config_options()) {
    std::string help = opt.help + " [" + opt.key + "]";
    auto* flag = app.add_option(opt.flag, flag_values[opt.key], help)->type_size(1)->allow_extra_args(false);
    if (opt.repeatable) {
      flag->type_name("DIR");  // the one list option: network.cni_bin_dirs
    } else {
      flag->type_name("VALUE")->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
  }

  auto* config_cmd = app.add_subcommand("config", "Print configuration");
  auto* config_default = config_cmd->add_subcommand("default", "Print the default config with comments");
  auto* config_dump = config_cmd->add_subcommand("dump", "Print the effective (merged) config");
  auto* config_reference =
      config_cmd->add_subcommand("reference", "Print every option (key, flag, default, description) as Markdown");
  config_cmd->require_subcommand(1);

  CLI11_PARSE(app, argc, argv);

  if (*config_default) {
    std::cout << crisp::cri::default_config_toml();
    return 0;
  }
  if (*config_reference) {
    std::cout << crisp::cri::config_reference_markdown();
    return 0;
  }
  // Defaults, the file and its drop-ins, then the flags. Run again on SIGHUP, so a flag keeps
  // overriding whatever the files say.
  bool config_required = config_flag->count() > 0;
  auto load = [config_path, config_required, flag_values]() {
    Config config = crisp::cri::load_config(config_path, config_required);
    for (const auto& [key, values] : flag_values) crisp::cri::set_config_flag(config, key, values);
    crisp::cri::validate_config(config);
    return config;
  };
  try {
    Config config = load();
    if (*config_dump) {
      std::cout << crisp::cri::config_to_toml(config);
      return 0;
    }
    crisp::cri::block_daemon_signals();
    crisp::cri::setup_logging(config.log_level, config.log_format);
    return crisp::cri::Daemon(config, config_path, load).run();
  } catch (const crisp::Error& e) {
    std::cerr << "crispd: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "crispd: " << e.what() << "\n";
    return 1;
  }
}
