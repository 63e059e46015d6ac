#pragma once
// crispd's metrics: one process-wide registry and its families, served at GET /metrics.
//
//   crisp_rpc_requests_total{rpc,code}        counter   every CRI call (cri/rpc.cc), code = gRPC code name
//   crisp_rpc_duration_seconds{rpc}           histogram
//   crisp_image_pulls_total{result}           counter   success | failure (PullImage)
//   crisp_image_pull_bytes_total              counter   compressed layer bytes fetched from registries
//   crisp_image_pull_duration_seconds         histogram successful pulls
//   crisp_sandboxes{state}                    gauge     ready | notready, at scrape time
//   crisp_containers{state}                   gauge     created | running | exited | unknown, at scrape time
//   crisp_monitors                            gauge     live crisp-monitor processes (one per running container)
//   crisp_build_info{version}                 gauge     1
//   process_resident_memory_bytes, process_open_fds, process_start_time_seconds   gauges, at scrape time
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "cri/metrics/metrics.h"

namespace crisp::cri {
struct Context;
}

namespace crisp::metrics {

struct CrispdMetrics {
  Registry registry;
  Counter& rpc_requests;
  Histogram& rpc_duration;
  Counter& image_pulls;
  Counter& image_pull_bytes;
  Histogram& image_pull_duration;
  Gauge& sandboxes;
  Gauge& containers;
  Gauge& monitors;
  Gauge& build_info;
  Gauge& resident_memory;
  Gauge& open_fds;
  Gauge& start_time;

  CrispdMetrics();
};

// The process-wide families (created on first use).
CrispdMetrics& crispd_metrics();

// One finished CRI call (code: "OK", "NOT_FOUND", ...).
void record_rpc(std::string_view rpc, std::string_view code, std::chrono::steady_clock::duration took);
// One finished PullImage; bytes only for an image that was not in the store before.
void record_image_pull(bool ok, uint64_t bytes, std::chrono::steady_clock::duration took);

// Collect-on-scrape gauges (runtime_metrics.cc, process_metrics.cc).
void collect_runtime_metrics(crisp::cri::Context& ctx);
void collect_process_metrics();

// The body of GET /metrics: collects, then renders crispd's registry.
std::string scrape_crispd_metrics(crisp::cri::Context& ctx, std::string_view version);

}  // namespace crisp::metrics
