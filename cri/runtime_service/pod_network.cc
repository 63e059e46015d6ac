#include "cri/runtime_service/pod_network.h"

namespace crisp::cri {

network::PodNetworkRequest pod_network_request(const runtime::SandboxInfo& info,
                                               const ::runtime::v1::PodSandboxConfig* config) {
  network::PodNetworkRequest req;
  req.sandbox_id = info.id;
  req.pod_name = info.config.name;
  req.pod_namespace = info.config.namespace_name;
  req.pod_uid = info.config.uid;
  req.netns_path = info.netns_path;
  req.cgroup_parent = info.config.cgroup_parent;
  req.dns.servers = info.config.dns.servers;
  req.dns.searches = info.config.dns.searches;
  req.dns.options = info.config.dns.options;
  if (config) {
    for (const auto& pm : config->port_mappings()) {
      if (pm.host_port() <= 0) continue;  // only host ports need wiring
      network::PortMapping m;
      switch (pm.protocol()) {
        case ::runtime::v1::UDP: m.protocol = "udp"; break;
        case ::runtime::v1::SCTP: m.protocol = "sctp"; break;
        default: m.protocol = "tcp";
      }
      m.container_port = pm.container_port();
      m.host_port = pm.host_port();
      m.host_ip = pm.host_ip();
      req.port_mappings.push_back(m);
    }
  }
  return req;
}

}  // namespace crisp::cri
