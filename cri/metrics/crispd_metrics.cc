#include "cri/metrics/crispd_metrics.h"

namespace crisp::metrics {

namespace {

// A pod is ~3 ms of kernel work; pulls take seconds to minutes.
const std::vector<double> kRpcBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,    1,     2.5,    5,     10,   30,    60,   120};
const std::vector<double> kPullBounds = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800};

double seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

CrispdMetrics::CrispdMetrics()
    : rpc_requests(registry.counter("crisp_rpc_requests_total", "CRI requests served, by RPC and gRPC status code.",
                                    {"rpc", "code"})),
      rpc_duration(registry.histogram("crisp_rpc_duration_seconds", "Time to serve a CRI request, by RPC.", {"rpc"},
                                      kRpcBounds)),
      image_pulls(registry.counter("crisp_image_pulls_total", "PullImage calls, by result (success or failure).",
                                   {"result"})),
      image_pull_bytes(registry.counter("crisp_image_pull_bytes_total",
                                        "Compressed layer bytes PullImage fetched from registries.")),
      image_pull_duration(registry.histogram("crisp_image_pull_duration_seconds",
                                             "Time of a successful PullImage.", {}, kPullBounds)),
      sandboxes(registry.gauge("crisp_sandboxes", "Pod sandboxes, by state.", {"state"})),
      containers(registry.gauge("crisp_containers", "Containers, by state.", {"state"})),
      monitors(registry.gauge("crisp_monitors", "Live crisp-monitor processes (one per running container).")),
      build_info(registry.gauge("crisp_build_info", "crispd's version; the value is always 1.", {"version"})),
      resident_memory(registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.")),
      open_fds(registry.gauge("process_open_fds", "Number of open file descriptors.")),
      start_time(registry.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.")) {}

CrispdMetrics& crispd_metrics() {
  static CrispdMetrics metrics;
  return metrics;
}

void record_rpc(std::string_view rpc, std::string_view code, std::chrono::steady_clock::duration took) {
  CrispdMetrics& m = crispd_metrics();
  m.rpc_requests.inc({rpc, code});
  m.rpc_duration.observe({rpc}, seconds(took));
}

void record_image_pull(bool ok, uint64_t bytes, std::chrono::steady_clock::duration took) {
  CrispdMetrics& m = crispd_metrics();
  m.image_pulls.inc({ok ? "success" : "failure"});
  m.image_pull_bytes.inc({}, static_cast<double>(bytes));  // a failed pull fetched them too
  if (ok) m.image_pull_duration.observe({}, seconds(took));
}

std::string scrape_crispd_metrics(crisp::cri::Context& ctx, std::string_view version) {
  CrispdMetrics& m = crispd_metrics();
  m.build_info.set({version}, 1);
  collect_process_metrics();
  collect_runtime_metrics(ctx);
  return m.registry.render();
}

}  // namespace crisp::metrics
