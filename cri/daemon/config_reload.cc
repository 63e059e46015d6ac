#include "cri/daemon/config_reload.h"

#include <spdlog/spdlog.h>

#include "cri/daemon/logging.h"
#include "image/image_service.h"
#include "network/network.h"

namespace crisp::cri {

namespace {

// 'info' -> info; other TOML values as they are.
std::string shown(const std::string& toml_text) {
  if (toml_text.size() >= 2 && toml_text.front() == '\'' && toml_text.back() == '\'')
    return toml_text.substr(1, toml_text.size() - 2);
  return toml_text;
}

}  // namespace

std::vector<std::string> apply_config_reload(Config& current, const Config& fresh, const ReloadTargets& targets) {
  std::vector<std::string> lines;
  for (const auto& opt : config_options()) {
    std::string before = config_value(current, opt.key);
    std::string after = config_value(fresh, opt.key);
    if (before == after) continue;
    std::string change = "SIGHUP: " + opt.key + " " + shown(before) + " -> " + shown(after);
    if (!opt.live) {
      lines.push_back(change + " needs a restart");
      spdlog::warn("{}", lines.back());
      continue;
    }
    lines.push_back(change);
    spdlog::info("{}", lines.back());  // before applying: a quieter level would hide the line
    if (opt.key == "log_level") {
      set_log_level(fresh.log_level);
      current.log_level = fresh.log_level;
    } else if (opt.key == "image.registry_config_dir") {
      if (targets.images) targets.images->set_registry_config_dir(fresh.registry_config_dir);
      current.registry_config_dir = fresh.registry_config_dir;
    } else if (opt.key == "network.cni_conf_dir") {
      if (targets.network) targets.network->set_cni_conf_dir(fresh.cni_conf_dir);
      current.cni_conf_dir = fresh.cni_conf_dir;
    } else {
      // An option marked live in config.cc without code here: say so rather than pretend.
      lines.back() += " needs a restart";
      spdlog::warn("SIGHUP: {} is marked live but crispd cannot apply it yet", opt.key);
    }
  }
  if (lines.empty()) {
    lines.push_back("SIGHUP: nothing changed");
    spdlog::info("{}", lines.back());
  }
  return lines;
}

}  // namespace crisp::cri
