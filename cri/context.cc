#include "cri/context.h"

namespace crisp::cri {

Config effective_config(Context& ctx) {
  std::lock_guard<std::mutex> lock(ctx.mu);
  return ctx.live_config;
}

}  // namespace crisp::cri
