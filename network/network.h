#pragma once
// crisp_network: wires a pod's network namespace. One PodNetwork per crispd.
//
// Two modes:
//  - built-in: a Linux bridge (default crisp0) holding the first address of the pod CIDR(s), one
//    veth per pod (eth0 inside the pod netns, veth<8 hex of the sandbox id> on the bridge),
//    host-local style IPAM under state_dir, egress masquerade and host ports in the nftables table
//    `ip crisp` (and `ip6 crisp`). IPv4, IPv6 or dual-stack: see NetworkOptions::pod_cidr.
//  - CNI: the lexically first *.conflist / *.conf / *.json in cni_conf_dir, plugins run from
//    cni_bin_dirs per the CNI spec (1.0.0, 0.4.0, 0.3.1).
// `auto` (the default) uses CNI when a config exists, else built-in; the conf dir is watched and
// switching is live. A pod is always torn down by the mode that set it up (a per-pod record).
// All functions throw crisp::Error. Thread-safe.
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace crisp::network {

struct PortMapping {
  std::string protocol = "tcp";  // tcp | udp | sctp
  int container_port = 0;
  int host_port = 0;
  std::string host_ip;  // empty: every address of the node
};

struct DnsConfig {
  std::vector<std::string> servers, searches, options;
};

struct Bandwidth {  // bits per second / bits; 0 = unset. CNI mode only (bandwidth plugin).
  long long ingress_rate = 0, ingress_burst = 0, egress_rate = 0, egress_burst = 0;
};

struct PodNetworkRequest {
  std::string sandbox_id;
  std::string pod_name, pod_namespace, pod_uid;
  std::string netns_path;  // a pinned netns file, e.g. /run/crisp/sandboxes/<id>/ns/net
  std::vector<PortMapping> port_mappings;
  std::string cgroup_parent;  // passed to CNI as runtimeConfig.cgroupPath
  DnsConfig dns;              // passed to CNI as runtimeConfig.dns
  Bandwidth bandwidth;        // passed to CNI as runtimeConfig.bandwidth
};

struct PodNetworkResult {
  std::string ip;                           // primary pod IP (built-in: of the first pod CIDR)
  std::vector<std::string> additional_ips;  // the others (e.g. IPv6)
  std::string interface = "eth0";
  std::string gateway;
};

enum class NetworkMode { kAuto, kBuiltin, kCni };

struct NetworkOptions {
  NetworkMode mode = NetworkMode::kAuto;
  // One CIDR or a comma-separated list with at most one per family, e.g. the kubelet's
  // dual-stack "10.88.0.0/16,fd00:88::/64": each pod gets an address of each range; the first
  // listed gives PodNetworkResult::ip, the other additional_ips. An IPv6 range makes crisp set
  // net.ipv6.conf.all.forwarding=1 on the host (as IPv4 sets net.ipv4.ip_forward=1).
  std::string pod_cidr = "10.88.0.0/16";
  std::string cni_conf_dir = "/etc/cni/net.d";
  std::vector<std::string> cni_bin_dirs = {"/opt/cni/bin", "/usr/lib/cni"};
  // IPAM, per-pod records, CNI result cache. tmpfs is right: pods and their netns do not survive
  // a reboot either, and writes there are cheap.
  std::string state_dir = "/run/crisp/network";
  std::string bridge_name = "crisp0";
  std::string nft_table = "crisp";   // nftables tables (families ip and ip6) of the built-in mode
  int cni_plugin_timeout_ms = 60000; // per plugin invocation
  unsigned mtu = 0;  // built-in veths/bridge; 0: the MTU of the default route's device (else 1500)
};

// Parses "auto" | "builtin" | "cni" (kInvalidArgument otherwise).
NetworkMode parse_network_mode(const std::string& text);

class PodNetwork {
 public:
  explicit PodNetwork(NetworkOptions options);
  ~PodNetwork();
  PodNetwork(const PodNetwork&) = delete;
  PodNetwork& operator=(const PodNetwork&) = delete;

  // RunPodSandbox: wires the netns; on failure nothing is left behind.
  PodNetworkResult setup(const PodNetworkRequest& request);
  // StopPodSandbox: releases the pod's IP, rules and (CNI) runs DEL. Idempotent; fine if the netns
  // is already gone. Built-in mode does not delete the veth when netns_going_away (dropping the
  // netns removes it, and a veth delete costs 15-33 ms); otherwise the veth is deleted.
  void teardown(const PodNetworkRequest& request, bool netns_going_away = true);
  // CNI CHECK (built-in: verifies the veth, address and IPAM entry).
  void check(const PodNetworkRequest& request);

  struct Status {
    bool ready = true;
    std::string reason, message;  // reason "NetworkPluginNotReady" when not ready
  };
  Status status() const;
  // UpdateRuntimeConfig: new pods get addresses from this CIDR (or dual-stack list, as pod_cidr).
  void set_pod_cidr(const std::string& cidr);
  // crispd's SIGHUP: watch `dir` for CNI configs from now on (the next setup/status re-selects).
  void set_cni_conf_dir(const std::string& dir);
  // At start: tears down every pod not in live_sandbox_ids (records, IPAM, nft, stale veths).
  void recover(const std::vector<std::string>& live_sandbox_ids);
  // The IPs a finished setup recorded for a pod (nullopt: none, or no setup finished). Lets crispd
  // complete a RunPodSandbox that a crash cut between network setup and the sandbox record.
  std::optional<PodNetworkResult> recorded_result(const std::string& sandbox_id) const;
  // "builtin" or "cni:<network name>" (what the next setup would use); "" if cni mode not ready.
  std::string mode() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace crisp::network
