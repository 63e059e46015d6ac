#pragma once
// SIGHUP: compare the config crispd runs with a freshly loaded one and apply what can change
// without a restart: the log level, the registry hosts.toml directory (read per pull) and the CNI
// conf dir (watched). Each change is logged ("SIGHUP: log_level info -> debug"); a change to any
// other option is logged as needing a restart and not applied; no change logs "SIGHUP: nothing
// changed".
#include <string>
#include <vector>

#include "cri/daemon/config.h"

namespace crisp::image {
class ImageService;
}
namespace crisp::network {
class PodNetwork;
}

namespace crisp::cri {

// The running libraries a reload updates; a null one is skipped (its option is still compared).
struct ReloadTargets {
  crisp::image::ImageService* images = nullptr;
  crisp::network::PodNetwork* network = nullptr;
};

// Applies `fresh` over `current` as above; `current` afterwards holds what crispd now runs with.
// Returns the lines it logged (info for applied changes, warn for "needs a restart").
std::vector<std::string> apply_config_reload(Config& current, const Config& fresh, const ReloadTargets& targets);

}  // namespace crisp::cri
