#pragma once
// Translation between CRI runtime messages and crisp_runtime's plain structs (runtime/types.h).
#include <string>
#include <vector>

#include "cri/proto/cri_api.h"
#include "runtime/types.h"

namespace crisp::runtime {
class Runtime;
}

namespace crisp::cri {

// The runtime handlers crispd serves (RuntimeClass.handler): the default "" and "crisp", the same runtime.
inline const std::vector<std::string> kRuntimeHandlers = {"", "crisp"};

// Throws kInvalidArgument for a sandbox config crisp cannot honour (an unknown runtime handler, ...).
runtime::SandboxConfig sandbox_config_from_cri(const ::runtime::v1::PodSandboxConfig& config,
                                               const std::string& runtime_handler);
runtime::ContainerConfig container_config_from_cri(const ::runtime::v1::ContainerConfig& config);

runtime::SandboxFilter sandbox_filter_from_cri(const ::runtime::v1::PodSandboxFilter& filter);
runtime::ContainerFilter container_filter_from_cri(const ::runtime::v1::ContainerFilter& filter);

void fill_pod_sandbox_status(const runtime::SandboxInfo& info, ::runtime::v1::PodSandboxStatus* out);
void fill_pod_sandbox(const runtime::SandboxInfo& info, ::runtime::v1::PodSandbox* out);
void fill_container_status(const runtime::ContainerInfo& info, ::runtime::v1::ContainerStatus* out);
void fill_container(const runtime::ContainerInfo& info, ::runtime::v1::Container* out);

// Verbose info (the "info" map's JSON) of a container / sandbox.
std::string container_verbose_info(const runtime::ContainerInfo& info);
std::string sandbox_verbose_info(const runtime::SandboxInfo& info);

// The runtime, or kUnavailable when crispd runs without one.
runtime::Runtime& require_runtime(runtime::Runtime* runtime);

}  // namespace crisp::cri
