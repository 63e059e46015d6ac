// NetworkReady for the Status RPC, from the pod network library.
#include "cri/context.h"
#include "network/network.h"

namespace crisp::cri {

NetworkState network_state(Context& ctx) {
  if (!ctx.network) return {false, "NetworkPluginNotReady", "pod networking is not initialised"};
  auto status = ctx.network->status();
  return {status.ready, status.reason, status.message};
}

}  // namespace crisp::cri
