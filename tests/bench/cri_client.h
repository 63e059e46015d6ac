#pragma once
// A thin synchronous CRI client for the benchmark: each call throws std::runtime_error with the
// gRPC status on failure.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "cri/proto/cri_api.h"

namespace crisp::bench {

class CriClient {
 public:
  // Pod log directories go below a temporary directory of this client's, removed with it (the
  // kubelet's job for real pods: runtimes never delete log directories).
  explicit CriClient(const std::string& endpoint);
  ~CriClient();
  CriClient(const CriClient&) = delete;
  CriClient& operator=(const CriClient&) = delete;

  void ensure_image(const std::string& image);  // ImageStatus, then PullImage if absent
  std::string pull(const std::string& image);
  void remove_image(const std::string& image);
  uint64_t image_size(const std::string& image);  // ImageStatus size, 0 if absent

  ::runtime::v1::PodSandboxConfig pod_config(const std::string& name) const;
  std::string run_pod(const ::runtime::v1::PodSandboxConfig& config);
  std::string create_container(const std::string& pod_id, const ::runtime::v1::PodSandboxConfig& pod,
                               const std::string& name, const std::string& image,
                               const std::vector<std::string>& command);
  void start_container(const std::string& id);
  void stop_pod(const std::string& id);
  void remove_pod(const std::string& id);
  int exec_sync(const std::string& container_id, const std::vector<std::string>& cmd);

  size_t list_containers();
  size_t list_pods();
  size_t list_container_stats();
  void container_status(const std::string& id);

  ::runtime::v1::RuntimeService::Stub& runtime() { return *runtime_; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::runtime::v1::RuntimeService::Stub> runtime_;
  std::unique_ptr<::runtime::v1::ImageService::Stub> images_;
  std::string log_root_;  // /tmp/crisp-bench-logs-XXXXXX
};

}  // namespace crisp::bench
