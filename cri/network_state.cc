// NetworkReady for the Status RPC, from the pod network library.
#include "cri/context.h"

namespace crisp::cri {

NetworkState network_state(Context& ctx) {
  if (!ctx.network) return {false, "NetworkPluginNotReady", "pod networking is not initialised"};
  return {true, "", ""};
}

}  // namespace crisp::cri
