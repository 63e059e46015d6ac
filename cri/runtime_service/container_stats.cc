// ContainerStats, ListContainerStats, StreamContainerStats, PodSandboxStats, ListPodSandboxStats,
// StreamPodSandboxStats: cgroup cpu/memory/pids usage, the writable layer's size and the pod's
// network interfaces (runtime/container_limits.cc, runtime/network_stats.h).
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/limits_convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"

namespace crisp::cri {

namespace {

// Stream* RPCs send their list in pages of this many stats (as containerd 2.x).
constexpr int kStatsPage = 100;

void fill_container_stats(const runtime::ContainerStats& s, ::runtime::v1::ContainerStats* out) {
  auto* attributes = out->mutable_attributes();
  attributes->set_id(s.info.id);
  attributes->mutable_metadata()->set_name(s.info.config.name);
  attributes->mutable_metadata()->set_attempt(s.info.config.attempt);
  for (const auto& [k, v] : s.info.config.labels) (*attributes->mutable_labels())[k] = v;
  for (const auto& [k, v] : s.info.config.annotations) (*attributes->mutable_annotations())[k] = v;
  // Not running: no cpu/memory/swap (as containerd), only the writable layer.
  if (s.info.state == runtime::ContainerState::kRunning) {
    fill_cpu_usage(s.stats.cgroup, s.stats.timestamp_ns, s.stats.cpu_nano_cores, out->mutable_cpu());
    fill_memory_usage(s.stats.cgroup, s.stats.timestamp_ns, out->mutable_memory());
    out->mutable_swap()->set_timestamp(s.stats.timestamp_ns);
    out->mutable_swap()->mutable_swap_usage_bytes()->set_value(s.stats.cgroup.memory_swap_bytes);
  }
  auto* layer = out->mutable_writable_layer();
  layer->set_timestamp(s.stats.timestamp_ns);
  layer->mutable_fs_id()->set_mountpoint(s.stats.writable_layer_path);
  layer->mutable_used_bytes()->set_value(s.stats.writable_layer_bytes);
  layer->mutable_inodes_used()->set_value(s.stats.writable_layer_inodes);
}

void fill_sandbox_stats(const runtime::SandboxStats& s, ::runtime::v1::PodSandboxStats* out) {
  auto* attributes = out->mutable_attributes();
  attributes->set_id(s.info.id);
  auto* md = attributes->mutable_metadata();
  md->set_name(s.info.config.name);
  md->set_uid(s.info.config.uid);
  md->set_namespace_(s.info.config.namespace_name);
  md->set_attempt(s.info.config.attempt);
  for (const auto& [k, v] : s.info.config.labels) (*attributes->mutable_labels())[k] = v;
  for (const auto& [k, v] : s.info.config.annotations) (*attributes->mutable_annotations())[k] = v;
  auto* linux = out->mutable_linux();
  fill_cpu_usage(s.stats.cgroup, s.stats.timestamp_ns, s.stats.cpu_nano_cores, linux->mutable_cpu());
  fill_memory_usage(s.stats.cgroup, s.stats.timestamp_ns, linux->mutable_memory());
  // Pods without a network namespace of their own (NODE) report no network, as containerd.
  if (!s.stats.network.empty()) fill_network_usage(s.stats.network, s.stats.timestamp_ns, linux->mutable_network());
  auto* process = linux->mutable_process();
  process->set_timestamp(s.stats.timestamp_ns);
  process->mutable_process_count()->set_value(s.stats.cgroup.pids_current);
  for (const auto& c : s.containers) fill_container_stats(c, linux->add_containers());
}

runtime::ContainerFilter container_stats_filter(const ::runtime::v1::ContainerStatsFilter& f) {
  runtime::ContainerFilter filter;
  filter.id = f.id();
  filter.sandbox_id = f.pod_sandbox_id();
  for (const auto& [k, v] : f.label_selector()) filter.label_selector[k] = v;
  return filter;
}

runtime::SandboxFilter sandbox_stats_filter(const ::runtime::v1::PodSandboxStatsFilter& f) {
  runtime::SandboxFilter filter;
  filter.id = f.id();
  for (const auto& [k, v] : f.label_selector()) filter.label_selector[k] = v;
  return filter;
}

}  // namespace

grpc::Status RuntimeServiceImpl::ContainerStats(grpc::ServerContext*, const ::runtime::v1::ContainerStatsRequest* request,
                                                ::runtime::v1::ContainerStatsResponse* response) {
  return rpc("ContainerStats", *request, [&] {
    fill_container_stats(require_runtime(ctx_.runtime).container_stats(request->container_id()),
                         response->mutable_stats());
  });
}

grpc::Status RuntimeServiceImpl::ListContainerStats(grpc::ServerContext*,
                                                    const ::runtime::v1::ListContainerStatsRequest* request,
                                                    ::runtime::v1::ListContainerStatsResponse* response) {
  return rpc("ListContainerStats", *request, [&] {
    for (const auto& s : require_runtime(ctx_.runtime).list_container_stats(container_stats_filter(request->filter()))) {
      fill_container_stats(s, response->add_stats());
    }
  });
}

grpc::Status RuntimeServiceImpl::StreamContainerStats(grpc::ServerContext*,
                                                      const ::runtime::v1::StreamContainerStatsRequest* request,
                                                      grpc::ServerWriter<::runtime::v1::StreamContainerStatsResponse>* writer) {
  return rpc("StreamContainerStats", *request, [&] {
    ::runtime::v1::StreamContainerStatsResponse page;
    for (const auto& s : require_runtime(ctx_.runtime).list_container_stats(container_stats_filter(request->filter()))) {
      fill_container_stats(s, page.add_container_stats());
      if (page.container_stats_size() == kStatsPage) {
        if (!writer->Write(page)) return;
        page.Clear();
      }
    }
    if (page.container_stats_size() > 0) writer->Write(page);
  });
}

grpc::Status RuntimeServiceImpl::PodSandboxStats(grpc::ServerContext*, const ::runtime::v1::PodSandboxStatsRequest* request,
                                                 ::runtime::v1::PodSandboxStatsResponse* response) {
  return rpc("PodSandboxStats", *request, [&] {
    fill_sandbox_stats(require_runtime(ctx_.runtime).sandbox_stats(request->pod_sandbox_id()),
                       response->mutable_stats());
  });
}

grpc::Status RuntimeServiceImpl::ListPodSandboxStats(grpc::ServerContext*,
                                                     const ::runtime::v1::ListPodSandboxStatsRequest* request,
                                                     ::runtime::v1::ListPodSandboxStatsResponse* response) {
  return rpc("ListPodSandboxStats", *request, [&] {
    for (const auto& s : require_runtime(ctx_.runtime).list_sandbox_stats(sandbox_stats_filter(request->filter()))) {
      fill_sandbox_stats(s, response->add_stats());
    }
  });
}

grpc::Status RuntimeServiceImpl::StreamPodSandboxStats(grpc::ServerContext*,
                                                       const ::runtime::v1::StreamPodSandboxStatsRequest* request,
                                                       grpc::ServerWriter<::runtime::v1::StreamPodSandboxStatsResponse>* writer) {
  return rpc("StreamPodSandboxStats", *request, [&] {
    ::runtime::v1::StreamPodSandboxStatsResponse page;
    for (const auto& s : require_runtime(ctx_.runtime).list_sandbox_stats(sandbox_stats_filter(request->filter()))) {
      fill_sandbox_stats(s, page.add_pod_sandbox_stats());
      if (page.pod_sandbox_stats_size() == kStatsPage) {
        if (!writer->Write(page)) return;
        page.Clear();
      }
    }
    if (page.pod_sandbox_stats_size() > 0) writer->Write(page);
  });
}

}  // namespace crisp::cri
