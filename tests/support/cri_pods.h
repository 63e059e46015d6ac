#pragma once
// CRI pod and container calls shared by the crispd-level integration tests: the pod config they
// send, RunPodSandbox, CreateContainer + StartContainer, ExecSync, PodSandboxStatus, ListPodSandbox,
// stop/remove of pods, and PullImage. Plain free functions over the CRI stubs (a CrispdFixture's
// runtime() and images()); each call has its own deadline (client_context(), 30 s unless noted).
// Functions without `try_` EXPECT success (gtest) and return what the RPC answered; the `try_`
// variants return the grpc::Status for tests that check errors.
//
//   namespace v1 = ::runtime::v1;
//   auto& rt = crispd.runtime();
//   pull(crispd.images(), images.busybox.ref);
//   auto config = pod_config("web", crispd.dir() + "/pod-logs");     // tweak it as the test needs
//   std::string pod = run_pod(rt, config);
//   std::string c = start_container(rt, pod, container_config("c", images.busybox.ref, {"sleep", "100"}));
//   EXPECT_EQ(exec(rt, c, {"echo", "hi"}).stdout(), "hi\n");
//   remove_all_pods(rt, /*stop_first=*/true);                          // in TearDown
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "cri/proto/cri_api.h"

namespace crisp::test {

// A pod as the tests send it: metadata name `name`, uid "uid-<name>", namespace "default",
// hostname `name`, log directory "<log_root>/<name>".
::runtime::v1::PodSandboxConfig pod_config(const std::string& name, const std::string& log_root);

// RunPodSandbox with `config` (and the RuntimeClass handler, "" for the default); *id gets the
// pod's id (when id is not null).
grpc::Status try_run_pod(::runtime::v1::RuntimeService::Stub& runtime, const ::runtime::v1::PodSandboxConfig& config,
                         std::string* id, const std::string& runtime_handler = "");
// ... EXPECTs success; returns the pod's id ("" on failure).
std::string run_pod(::runtime::v1::RuntimeService::Stub& runtime, const ::runtime::v1::PodSandboxConfig& config,
                    const std::string& runtime_handler = "");

// A container config: metadata name `name`, image `image`, command `command`, log path "<name>.log"
// (relative to the pod's log directory).
::runtime::v1::ContainerConfig container_config(const std::string& name, const std::string& image,
                                                const std::vector<std::string>& command);

// CreateContainer of `config` in `pod` (no sandbox config is sent); *id gets the container's id.
grpc::Status try_create_container(::runtime::v1::RuntimeService::Stub& runtime, const std::string& pod,
                                  const ::runtime::v1::ContainerConfig& config, std::string* id);
grpc::Status try_start_container(::runtime::v1::RuntimeService::Stub& runtime, const std::string& container);
// Create + start, EXPECTing both to succeed; returns the container's id.
std::string start_container(::runtime::v1::RuntimeService::Stub& runtime, const std::string& pod,
                            const ::runtime::v1::ContainerConfig& config);

// ExecSync of `cmd` with a timeout of `timeout_s` seconds (the RPC's deadline: that + 10 s, at least
// 30 s). EXPECTs an OK status, unless `status_out` is given: then the status goes there.
::runtime::v1::ExecSyncResponse exec(::runtime::v1::RuntimeService::Stub& runtime, const std::string& container,
                                     const std::vector<std::string>& cmd, int64_t timeout_s = 10,
                                     grpc::Status* status_out = nullptr);

// PodSandboxStatus, EXPECTs success.
::runtime::v1::PodSandboxStatusResponse pod_status(::runtime::v1::RuntimeService::Stub& runtime,
                                                   const std::string& pod, bool verbose = false);
// ListPodSandbox without a filter, EXPECTs success.
std::vector<::runtime::v1::PodSandbox> list_pods(::runtime::v1::RuntimeService::Stub& runtime);

grpc::Status try_stop_pod(::runtime::v1::RuntimeService::Stub& runtime, const std::string& pod);
grpc::Status try_remove_pod(::runtime::v1::RuntimeService::Stub& runtime, const std::string& pod);
// RemovePodSandbox alone (which stops a running pod too), EXPECTs success.
void remove_pod(::runtime::v1::RuntimeService::Stub& runtime, const std::string& pod);
// StopPodSandbox then RemovePodSandbox (as the kubelet does), EXPECTs both to succeed.
void stop_and_remove_pod(::runtime::v1::RuntimeService::Stub& runtime, const std::string& pod);
// Every pod crispd lists, removed (stopped first when stop_first): for a test's TearDown.
void remove_all_pods(::runtime::v1::RuntimeService::Stub& runtime, bool stop_first = false);

// PullImage of `ref` (deadline 60 s), ASSERTs success (a fatal failure in the caller's test).
void pull(::runtime::v1::ImageService::Stub& images, const std::string& ref);

}  // namespace crisp::test
