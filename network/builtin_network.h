#pragma once
// The built-in mode: bridge + veth per pod over rtnetlink, host-local IPAM, nftables NAT.
// IPv4, IPv6 or dual-stack, per the pod CIDR list (see pod_cidrs.h): the bridge holds the first
// host address of each range, each pod gets one address per range on eth0 and a default route per
// family via the bridge. With an IPv6 range, the host gets net.ipv6.conf.all.forwarding=1 (as
// with IPv4's ip_forward) and the pod's eth0 accept_dad=0, so its address is usable at once.
#include <mutex>
#include <set>
#include <string>

#include "network/ipam.h"
#include "network/network.h"
#include "network/nft_rules.h"
#include "network/pod_cidrs.h"
#include "network/pod_record.h"

namespace crisp::network {

class BuiltinNetwork {
 public:
  explicit BuiltinNetwork(const NetworkOptions& options);

  // Wires the pod; fills record (ip, ipv6, host_veth, port mappings). Leaves nothing on failure.
  PodNetworkResult setup(const PodNetworkRequest& request, PodRecord& record);
  // Releases the pod's host ports and IP; deletes the host veth only if delete_veth.
  void teardown(const PodRecord& record, bool delete_veth);
  void check(const PodRecord& record);
  void set_pod_cidr(const std::string& cidr);
  // Releases IPs and host ports whose owner is not in keep_owners; deletes veths on the bridge
  // that are not in live_veths.
  void recover(const std::set<std::string>& keep_owners,
               const std::set<std::string>& live_veths);
  NftRules& nft() { return nft_; }
  NftRules& nft6() { return nft6_; }

  // "veth" + the first 8 hex digits of the sandbox id (a hash when the id is not hex);
  // attempt > 0 gives alternatives for a name clash.
  static std::string host_veth_name(const std::string& sandbox_id, int attempt = 0);

 private:
  struct HostState {
    PodCidrs cidrs;
    int bridge_ifindex = 0;
    unsigned mtu = 0;
  };
  // Creates the bridge, its address, sysctls and the nft table on first use (and after a CIDR
  // change); returns the current state.
  HostState ensure_host();

  NetworkOptions options_;
  HostLocalIpam ipam_;
  NftRules nft_;   // table ip <nft_table>
  NftRules nft6_;  // table ip6 <nft_table>, made only with an IPv6 pod CIDR
  std::mutex host_mutex_;  // guards host_, host_ready_ and the pod CIDR
  HostState host_;
  bool host_ready_ = false;
};

}  // namespace crisp::network
