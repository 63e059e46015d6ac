// ContainerStats, ListContainerStats, PodSandboxStats, ListPodSandboxStats: cgroup cpu/memory/pids
// usage and the writable layer's size (runtime/container_limits.cc). Network usage is not
// measured yet (reported empty).
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/limits_convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"

namespace crisp::cri {

namespace {

void fill_container_stats(const runtime::ContainerStats& s, ::runtime::v1::ContainerStats* out) {
  auto* attributes = out->mutable_attributes();
  attributes->set_id(s.info.id);
  attributes->mutable_metadata()->set_name(s.info.config.name);
  attributes->mutable_metadata()->set_attempt(s.info.config.attempt);
  for (const auto& [k, v] : s.info.config.labels) (*attributes->mutable_labels())[k] = v;
  for (const auto& [k, v] : s.info.config.annotations) (*attributes->mutable_annotations())[k] = v;
  fill_cpu_usage(s.stats.cgroup, s.stats.timestamp_ns, s.stats.cpu_nano_cores, out->mutable_cpu());
  fill_memory_usage(s.stats.cgroup, s.stats.timestamp_ns, out->mutable_memory());
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
  linux->mutable_network()->set_timestamp(s.stats.timestamp_ns);
  auto* process = linux->mutable_process();
  process->set_timestamp(s.stats.timestamp_ns);
  process->mutable_process_count()->set_value(s.stats.cgroup.pids_current);
  for (const auto& c : s.containers) fill_container_stats(c, linux->add_containers());
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
    runtime::ContainerFilter filter;
    filter.id = request->filter().id();
    filter.sandbox_id = request->filter().pod_sandbox_id();
    for (const auto& [k, v] : request->filter().label_selector()) filter.label_selector[k] = v;
    for (const auto& s : require_runtime(ctx_.runtime).list_container_stats(filter)) {
      fill_container_stats(s, response->add_stats());
    }
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
    runtime::SandboxFilter filter;
    filter.id = request->filter().id();
    for (const auto& [k, v] : request->filter().label_selector()) filter.label_selector[k] = v;
    for (const auto& s : require_runtime(ctx_.runtime).list_sandbox_stats(filter)) {
      fill_sandbox_stats(s, response->add_stats());
    }
  });
}

}  // namespace crisp::cri
