// crisp_sandboxes, crisp_containers and crisp_monitors from the runtime's lists, at scrape time.
#include "cri/context.h"
#include "cri/metrics/crispd_metrics.h"
#include "runtime/runtime.h"

namespace crisp::metrics {

void collect_runtime_metrics(crisp::cri::Context& ctx) {
  CrispdMetrics& m = crispd_metrics();
  if (!ctx.runtime) return;
  double ready = 0, not_ready = 0;
  for (const auto& sb : ctx.runtime->list_sandboxes())
    (sb.state == crisp::runtime::SandboxState::kReady ? ready : not_ready) += 1;
  m.sandboxes.set({"ready"}, ready);
  m.sandboxes.set({"notready"}, not_ready);

  double created = 0, running = 0, exited = 0, unknown = 0;
  for (const auto& c : ctx.runtime->list_containers()) {
    switch (c.state) {
      case crisp::runtime::ContainerState::kCreated: created += 1; break;
      case crisp::runtime::ContainerState::kRunning: running += 1; break;
      case crisp::runtime::ContainerState::kExited: exited += 1; break;
      case crisp::runtime::ContainerState::kUnknown: unknown += 1; break;
    }
  }
  m.containers.set({"created"}, created);
  m.containers.set({"running"}, running);
  m.containers.set({"exited"}, exited);
  m.containers.set({"unknown"}, unknown);
  // A container's crisp-monitor lives from StartContainer until the container exits.
  m.monitors.set({}, running);
}

}  // namespace crisp::metrics
