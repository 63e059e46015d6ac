#pragma once
// CNI network configuration: finding, loading and selecting the config in the conf dir, and
// building each plugin's stdin config (name, cniVersion, prevResult, runtimeConfig).
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "network/network.h"

namespace crisp::network {

struct CniNetworkConfig {
  std::string file;          // where it was loaded from
  std::string name;          // network name
  std::string cni_version;   // e.g. "1.0.0"
  bool disable_check = false;
  nlohmann::json plugins;    // array of plugin configs (each with "type")
  // The whole config as a conflist (a single-plugin .conf is wrapped); cached per sandbox.
  nlohmann::json to_json() const;
  static CniNetworkConfig from_json(const nlohmann::json& conflist, const std::string& file);
};

// *.conflist, *.conf and *.json files of dir, sorted lexically by name. Missing dir: empty.
std::vector<std::string> cni_config_files(const std::string& dir);
// Loads a conflist or a single-plugin config. kInvalidArgument on a bad file.
CniNetworkConfig load_cni_config(const std::string& path);

struct CniConfigSelection {
  std::optional<CniNetworkConfig> config;  // the lexically first valid config
  std::string error;                       // why there is none (or why earlier files were skipped)
};
CniConfigSelection select_cni_config(const std::string& dir);

// "IgnoreUnknown=1;K8S_POD_NAMESPACE=..;K8S_POD_NAME=..;K8S_POD_INFRA_CONTAINER_ID=..;K8S_POD_UID=.."
std::string compose_cni_args(const PodNetworkRequest& request);

// Every runtimeConfig key crisp can fill (portMappings, bandwidth, dns, cgroupPath).
nlohmann::json full_runtime_config(const PodNetworkRequest& request);

// The stdin config of plugin `index`: the plugin's config plus name, cniVersion, the prevResult
// (if not null) and runtimeConfig limited to the capabilities the plugin declares.
nlohmann::json plugin_stdin_config(const CniNetworkConfig& config, size_t index,
                                   const nlohmann::json& prev_result,
                                   const nlohmann::json& runtime_config);

// Compares dotted versions ("0.4.0" < "1.0.0"); unparsable parts count as 0.
int compare_cni_versions(const std::string& a, const std::string& b);

}  // namespace crisp::network
