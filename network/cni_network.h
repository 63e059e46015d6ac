#pragma once
// The CNI mode: ADD/DEL/CHECK of a network config's plugin chain for one pod, with the config,
// arguments and result cached per sandbox (state_dir/cni/<id>.json) so DEL and CHECK use what ADD
// used even if the conf dir changed since.
#include <string>
#include <vector>

#include "network/cni_config.h"
#include "network/network.h"

namespace crisp::network {

class CniNetwork {
 public:
  CniNetwork(std::vector<std::string> bin_dirs, std::string cache_dir, int timeout_ms);

  // ADD through every plugin in order. On failure, DEL is run (errors ignored), the cache removed
  // and the plugin's message thrown.
  PodNetworkResult add(const CniNetworkConfig& config, const PodNetworkRequest& request);
  // DEL in reverse order from the cache; nothing cached: nothing to do. Errors caused by a
  // missing netns are ignored.
  void del(const std::string& sandbox_id);
  // CHECK (cniVersion >= 0.4.0, unless disableCheck).
  void check(const std::string& sandbox_id);
  bool has_cache(const std::string& sandbox_id) const;
  std::vector<std::string> cached_sandbox_ids() const;

 private:
  struct Cached;
  nlohmann::json run_plugin(const CniNetworkConfig& config, size_t index, const std::string& command,
                            const std::string& sandbox_id, const std::string& netns,
                            const std::string& args, const nlohmann::json& prev_result,
                            const nlohmann::json& runtime_config);
  // DEL of every plugin, reverse order; returns the first error text not caused by a gone netns.
  std::string del_all(const CniNetworkConfig& config, const std::string& sandbox_id,
                      const std::string& netns, const std::string& args,
                      const nlohmann::json& prev_result, const nlohmann::json& runtime_config);
  std::string cache_path(const std::string& sandbox_id) const;

  std::vector<std::string> bin_dirs_;
  std::string cni_path_;
  std::string cache_dir_;
  int timeout_ms_;
};

}  // namespace crisp::network
