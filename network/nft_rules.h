#pragma once
// The nftables side of the built-in mode, through libnftables, in a table of crisp's own per
// address family (`table ip crisp`, and `table ip6 crisp` when an IPv6 pod CIDR is configured):
//   set pod_cidrs                   the pod CIDRs of the family (masquerade source)
//   map hostport_any / hostport_ip  [host ip .] proto . host port -> pod ip . container port,
//                                   each element commented with its sandbox id
//   chains prerouting/output (DNAT to the maps for local destinations) and postrouting
//   (masquerade pod egress, hairpin and (IPv4 only) localhost host-port traffic).
// Per-pod state is only map elements, so teardown removes exactly that pod's entries and the
// base rules are rewritten idempotently (flush + add in one transaction) at start.
//
// Host ports follow the CNI portmap plugin: a mapping with an empty host IP is forwarded in both
// families (to the pod's address of each), "0.0.0.0" / an IPv4 host IP only in IPv4, "::" / an
// IPv6 host IP only in IPv6. localhost (127.0.0.1) works for IPv4; IPv6 has no route_localnet,
// so ::1 is not forwarded (as with portmap).
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "network/network.h"
#include "runtime/base/error.h"

struct nft_ctx;

namespace crisp::network {

enum class IpFamily { kIpv4, kIpv6 };

class NftRules {
 public:
  explicit NftRules(std::string table, IpFamily family = IpFamily::kIpv4);
  ~NftRules();
  NftRules(const NftRules&) = delete;
  NftRules& operator=(const NftRules&) = delete;

  // Creates/refreshes the table, sets, maps, chains and base rules; adds pod_cidr (a CIDR of the
  // table's family) to pod_cidrs.
  void ensure(const std::string& pod_cidr);
  // Adds the pod's host ports of this family (pod_ip: the pod's address in it). kAlreadyExists if
  // a host port is taken (nothing is added then).
  void add_host_ports(const std::string& sandbox_id, const std::string& pod_ip,
                      const std::vector<PortMapping>& mappings);
  // Removes the pod's host ports: the given ones first, anything else tagged with its id after.
  void remove_host_ports(const std::string& sandbox_id, const std::string& pod_ip,
                         const std::vector<PortMapping>& mappings);
  // Sandbox ids that own map elements.
  std::set<std::string> owners();
  // Removes every element of an owner (by listing the maps).
  void remove_owner(const std::string& sandbox_id);
  // Deletes the whole table (tests).
  void destroy();
  const std::string& table() const { return table_; }
  IpFamily family() const { return family_; }

 private:
  // Runs an nft script; returns the output. Throws kind on failure with nft's error text.
  std::string run(const std::string& script, bool json_output = false,
                  ErrorKind kind = ErrorKind::kInternal);
  bool table_exists();

  std::string table_;
  IpFamily family_;
  std::string qualified_;  // "ip <table>" / "ip6 <table>"
  std::mutex mutex_;  // guards ctx_ (libnftables contexts are not thread-safe)
  nft_ctx* ctx_ = nullptr;
};

// The nft element key for a mapping ("tcp . 8080" or "10.0.0.1 . tcp . 8080") and the map it
// goes in ("hostport_any" / "hostport_ip"). kInvalidArgument on a bad protocol/port/host ip.
struct HostPortElement {
  std::string map, key, value;
};
HostPortElement host_port_element(uint32_t pod_ip, const PortMapping& mapping);
// The same for a pod address of either family (the mapping must apply to it).
HostPortElement host_port_element(IpFamily family, const std::string& pod_ip, const PortMapping& mapping);
// Whether a mapping is forwarded in family (a host port, and a host IP of the family or none).
bool host_port_applies(IpFamily family, const PortMapping& mapping);

}  // namespace crisp::network
