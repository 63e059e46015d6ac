#pragma once
// Translation between a runtime sandbox (and its CRI config) and the pod network library's request.
#include "cri/proto/cri_api.h"
#include "network/network.h"
#include "runtime/types.h"

namespace crisp::cri {

// The request for setup/teardown of `info`'s network namespace. `config` (RunPodSandbox's) adds
// port mappings and DNS; teardown needs only the sandbox.
network::PodNetworkRequest pod_network_request(const runtime::SandboxInfo& info,
                                               const ::runtime::v1::PodSandboxConfig* config = nullptr);

}  // namespace crisp::cri
