// ListMetricDescriptors, ListPodSandboxMetrics, StreamPodSandboxMetrics: the cAdvisor metrics the
// kubelet serves on /metrics/cadvisor when it takes pod and container stats from the CRI
// (PodAndContainerStatsFromCRI). The values come from Runtime::list_sandbox_stats (cgroups,
// writable layers, the pod's network namespace); this file only names and labels them.
//
// Names, types and label keys follow cAdvisor as the kubelet exports it: every metric has
// container, id, image, name, namespace, pod (+ interface / device / failure_type, scope).
//   pod level   container=""      id=<pod cgroup>        image=""     name=<sandbox id>
//   container   container=<name>  id=<container cgroup>  image=<image> name=<container id>
// Network counters exist once per pod, at pod level (the namespace is the pod's), as containerd
// + cAdvisor report them on the sandbox. CPU seconds are whole seconds (the CRI carries uint64).
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"

namespace crisp::cri {

namespace {

using ::runtime::v1::MetricType;

struct MetricSpec {
  const char* name;
  const char* help;
  std::initializer_list<const char*> extra_labels;
};

const char* const kBaseLabels[] = {"container", "id", "image", "name", "namespace", "pod"};

// Every metric crisp reports, each listed once by ListMetricDescriptors.
const MetricSpec kMetrics[] = {
    {"container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", {}},
    {"container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.", {}},
    {"container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.", {}},
    {"container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", {}},
    {"container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.", {}},
    {"container_cpu_cfs_throttled_seconds_total", "Total time duration the container has been throttled.", {}},
    {"container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed", {}},
    {"container_memory_working_set_bytes", "Current working set in bytes.", {}},
    {"container_memory_rss", "Size of RSS in bytes.", {}},
    {"container_memory_cache", "Number of bytes of page cache memory.", {}},
    {"container_memory_swap", "Container swap usage in bytes.", {}},
    {"container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes", {}},
    {"container_memory_failcnt", "Number of memory usage hits limits", {}},
    {"container_memory_failures_total", "Cumulative count of memory allocation failures.", {"failure_type", "scope"}},
    {"container_oom_events_total", "Count of out of memory events observed for the container", {}},
    {"container_processes", "Number of processes running inside the container.", {}},
    {"container_threads", "Number of threads running inside the container", {}},
    {"container_threads_max", "Maximum number of threads allowed inside the container, infinity if value is zero", {}},
    {"container_spec_memory_limit_bytes", "Memory limit for the container.", {}},
    {"container_spec_cpu_quota", "CPU quota of the container.", {}},
    {"container_spec_cpu_period", "CPU period of the container.", {}},
    {"container_spec_cpu_shares", "CPU share of the container.", {}},
    {"container_fs_usage_bytes", "Number of bytes that are consumed by the container on this filesystem.", {"device"}},
    {"container_fs_limit_bytes", "Number of bytes that can be consumed by the container on this filesystem.", {"device"}},
    {"container_fs_inodes_total", "Number of Inodes", {"device"}},
    {"container_fs_inodes_free", "Number of available Inodes", {"device"}},
    {"container_network_receive_bytes_total", "Cumulative count of bytes received", {"interface"}},
    {"container_network_receive_packets_total", "Cumulative count of packets received", {"interface"}},
    {"container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving", {"interface"}},
    {"container_network_receive_errors_total", "Cumulative count of errors encountered while receiving", {"interface"}},
    {"container_network_transmit_bytes_total", "Cumulative count of bytes transmitted", {"interface"}},
    {"container_network_transmit_packets_total", "Cumulative count of packets transmitted", {"interface"}},
    {"container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting", {"interface"}},
    {"container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting", {"interface"}},
    {"container_last_seen", "Last time a container was seen by the exporter", {}},
    {"container_start_time_seconds", "Start time of the container since unix epoch in seconds.", {}},
};

constexpr uint64_t kNanosPerSecond = 1000000000;

// Appends metrics sharing one set of base label values.
class MetricWriter {
 public:
  MetricWriter(google::protobuf::RepeatedPtrField<::runtime::v1::Metric>* out, std::vector<std::string> base,
               int64_t timestamp_ns)
      : out_(out), base_(std::move(base)), timestamp_ns_(timestamp_ns) {}

  void add(const char* name, MetricType type, uint64_t value, std::initializer_list<std::string> extra = {}) {
    auto* m = out_->Add();
    m->set_name(name);
    m->set_timestamp(timestamp_ns_);
    m->set_metric_type(type);
    for (const auto& v : base_) m->add_label_values(v);
    for (const auto& v : extra) m->add_label_values(v);
    m->mutable_value()->set_value(value);
  }
  void counter(const char* name, uint64_t value, std::initializer_list<std::string> extra = {}) {
    add(name, ::runtime::v1::COUNTER, value, extra);
  }
  void gauge(const char* name, uint64_t value, std::initializer_list<std::string> extra = {}) {
    add(name, ::runtime::v1::GAUGE, value, extra);
  }

 private:
  google::protobuf::RepeatedPtrField<::runtime::v1::Metric>* out_;
  std::vector<std::string> base_;
  int64_t timestamp_ns_;
};

// CPU, memory, OOM and process metrics of one cgroup.
void add_cgroup_metrics(MetricWriter& w, const cgroups::CgroupStats& c) {
  w.counter("container_cpu_usage_seconds_total", c.cpu_usage_ns / kNanosPerSecond);
  w.counter("container_cpu_user_seconds_total", c.cpu_user_ns / kNanosPerSecond);
  w.counter("container_cpu_system_seconds_total", c.cpu_system_ns / kNanosPerSecond);
  w.counter("container_cpu_cfs_periods_total", c.cpu_periods);
  w.counter("container_cpu_cfs_throttled_periods_total", c.cpu_throttled_periods);
  w.counter("container_cpu_cfs_throttled_seconds_total", c.cpu_throttled_ns / kNanosPerSecond);
  w.gauge("container_memory_usage_bytes", c.memory_usage_bytes);
  w.gauge("container_memory_working_set_bytes", c.memory_working_set_bytes);
  w.gauge("container_memory_rss", c.memory_rss_bytes);
  w.gauge("container_memory_cache", c.memory_cache_bytes);
  w.gauge("container_memory_swap", c.memory_swap_bytes);
  w.gauge("container_memory_max_usage_bytes", c.memory_max_usage_bytes);
  w.counter("container_memory_failcnt", c.memory_failcnt);
  // cgroup page-fault counters are hierarchical: the same value for both scopes, as cAdvisor.
  for (const char* scope : {"container", "hierarchy"}) {
    w.counter("container_memory_failures_total", c.memory_page_faults, {"pgfault", scope});
    w.counter("container_memory_failures_total", c.memory_major_page_faults, {"pgmajfault", scope});
  }
  w.counter("container_oom_events_total", c.oom_kills);
  w.gauge("container_processes", c.process_count);
  w.gauge("container_threads", c.pids_current);
  w.gauge("container_threads_max", c.pids_limit);
}

void add_network_metrics(MetricWriter& w, const std::vector<runtime::NetworkInterfaceStats>& interfaces) {
  for (const auto& n : interfaces) {
    w.counter("container_network_receive_bytes_total", n.rx_bytes, {n.name});
    w.counter("container_network_receive_packets_total", n.rx_packets, {n.name});
    w.counter("container_network_receive_packets_dropped_total", n.rx_dropped, {n.name});
    w.counter("container_network_receive_errors_total", n.rx_errors, {n.name});
    w.counter("container_network_transmit_bytes_total", n.tx_bytes, {n.name});
    w.counter("container_network_transmit_packets_total", n.tx_packets, {n.name});
    w.counter("container_network_transmit_packets_dropped_total", n.tx_dropped, {n.name});
    w.counter("container_network_transmit_errors_total", n.tx_errors, {n.name});
  }
}

void fill_container_metrics(const runtime::SandboxInfo& pod, const runtime::ContainerStats& s,
                            ::runtime::v1::ContainerMetrics* out) {
  out->set_container_id(s.info.id);
  const auto& config = s.info.config;
  MetricWriter w(out->mutable_metrics(),
                 {config.name, s.info.cgroup_path, config.image, s.info.id, pod.config.namespace_name, pod.config.name},
                 s.stats.timestamp_ns);
  add_cgroup_metrics(w, s.stats.cgroup);
  const auto& r = config.resources;
  w.gauge("container_spec_memory_limit_bytes", s.stats.cgroup.memory_limit_bytes);
  if (r.cpu_quota && *r.cpu_quota > 0) w.gauge("container_spec_cpu_quota", static_cast<uint64_t>(*r.cpu_quota));
  w.gauge("container_spec_cpu_period", r.cpu_period.value_or(100000));
  w.gauge("container_spec_cpu_shares", r.cpu_shares.value_or(1024));
  if (!s.stats.writable_layer_path.empty()) {
    const std::string& device = s.stats.writable_layer_path;
    w.gauge("container_fs_usage_bytes", s.stats.writable_layer_bytes, {device});
    w.gauge("container_fs_limit_bytes", s.stats.writable_layer_fs_capacity_bytes, {device});
    w.gauge("container_fs_inodes_total", s.stats.writable_layer_fs_inodes_total, {device});
    w.gauge("container_fs_inodes_free", s.stats.writable_layer_fs_inodes_free, {device});
  }
  w.gauge("container_last_seen", static_cast<uint64_t>(s.stats.timestamp_ns) / kNanosPerSecond);
  w.gauge("container_start_time_seconds", static_cast<uint64_t>(s.info.started_at_ns) / kNanosPerSecond);
}

void fill_pod_metrics(const runtime::SandboxStats& s, ::runtime::v1::PodSandboxMetrics* out) {
  out->set_pod_sandbox_id(s.info.id);
  MetricWriter w(out->mutable_metrics(),
                 {"", s.info.cgroup_path, "", s.info.id, s.info.config.namespace_name, s.info.config.name},
                 s.stats.timestamp_ns);
  if (!s.info.cgroup_path.empty()) add_cgroup_metrics(w, s.stats.cgroup);
  add_network_metrics(w, s.stats.network);
  w.gauge("container_last_seen", static_cast<uint64_t>(s.stats.timestamp_ns) / kNanosPerSecond);
  w.gauge("container_start_time_seconds", static_cast<uint64_t>(s.info.created_at_ns) / kNanosPerSecond);
  for (const auto& c : s.containers) fill_container_metrics(s.info, c, out->add_container_metrics());
}

}  // namespace

grpc::Status RuntimeServiceImpl::ListMetricDescriptors(grpc::ServerContext*,
                                                       const ::runtime::v1::ListMetricDescriptorsRequest* request,
                                                       ::runtime::v1::ListMetricDescriptorsResponse* response) {
  return rpc("ListMetricDescriptors", *request, [&] {
    for (const auto& spec : kMetrics) {
      auto* d = response->add_descriptors();
      d->set_name(spec.name);
      d->set_help(spec.help);
      for (const char* key : kBaseLabels) d->add_label_keys(key);
      for (const char* key : spec.extra_labels) d->add_label_keys(key);
    }
  });
}

grpc::Status RuntimeServiceImpl::ListPodSandboxMetrics(grpc::ServerContext*,
                                                       const ::runtime::v1::ListPodSandboxMetricsRequest* request,
                                                       ::runtime::v1::ListPodSandboxMetricsResponse* response) {
  return rpc("ListPodSandboxMetrics", *request, [&] {
    for (const auto& s : require_runtime(ctx_.runtime).list_sandbox_stats()) {
      fill_pod_metrics(s, response->add_pod_metrics());
    }
  });
}

grpc::Status RuntimeServiceImpl::StreamPodSandboxMetrics(grpc::ServerContext*,
                                                         const ::runtime::v1::StreamPodSandboxMetricsRequest* request,
                                                         grpc::ServerWriter<::runtime::v1::StreamPodSandboxMetricsResponse>* writer) {
  constexpr int kPage = 100;
  return rpc("StreamPodSandboxMetrics", *request, [&] {
    ::runtime::v1::StreamPodSandboxMetricsResponse page;
    for (const auto& s : require_runtime(ctx_.runtime).list_sandbox_stats()) {
      fill_pod_metrics(s, page.add_pod_sandbox_metrics());
      if (page.pod_sandbox_metrics_size() == kPage) {
        if (!writer->Write(page)) return;
        page.Clear();
      }
    }
    if (page.pod_sandbox_metrics_size() > 0) writer->Write(page);
  });
}

}  // namespace crisp::cri
