#include "network/builtin_network.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <functional>
#include <optional>

#include "network/netlink.h"
#include "network/netns.h"
#include "runtime/base/cleanup.h"
#include "runtime/base/error.h"
#include "runtime/base/unique_fd.h"

namespace crisp::network {

namespace {

constexpr const char* kPodIfname = "eth0";

// Writes value to a sysctl file unless it already holds it.
void set_sysctl(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) throw_errno("open " + path);
  char current[16] = {};
  ssize_t n = ::read(fd.get(), current, sizeof current - 1);
  if (n > 0 && std::string(current, static_cast<size_t>(n)) == value + "\n") return;
  if (::pwrite(fd.get(), value.data(), value.size(), 0) != static_cast<ssize_t>(value.size())) {
    throw_errno("write " + path);
  }
}

bool is_hex(const std::string& s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return !s.empty();
}

std::string hex8(size_t value) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08zx", value);
  return std::string(buf).substr(0, 8);
}

}  // namespace

BuiltinNetwork::BuiltinNetwork(const NetworkOptions& options)
    : options_(options),
      ipam_(options.state_dir + "/ipam"),
      nft_(options.nft_table, IpFamily::kIpv4),
      nft6_(options.nft_table, IpFamily::kIpv6) {
  host_.cidrs = parse_pod_cidrs(options.pod_cidr);
  if (options_.bridge_name.empty() || options_.bridge_name.size() >= 16) {
    throw Error(ErrorKind::kInvalidArgument, "invalid bridge name \"" + options_.bridge_name + "\"");
  }
}

std::string BuiltinNetwork::host_veth_name(const std::string& sandbox_id, int attempt) {
  if (attempt == 0 && sandbox_id.size() >= 8 && is_hex(sandbox_id.substr(0, 8))) {
    std::string name = "veth" + sandbox_id.substr(0, 8);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
  }
  return "veth" + hex8(std::hash<std::string>{}(sandbox_id + "#" + std::to_string(attempt)));
}

BuiltinNetwork::HostState BuiltinNetwork::ensure_host() {
  std::lock_guard lock(host_mutex_);
  if (host_ready_) return host_;
  RouteSocket sock;
  unsigned mtu = options_.mtu;
  if (mtu == 0) mtu = default_route_mtu(sock);
  if (mtu == 0) mtu = 1500;
  int bridge = ensure_bridge(sock, options_.bridge_name, mtu);
  if (const auto& v4 = host_.cidrs.ipv4) {
    add_ipv4_address(sock, bridge, v4->first_host(), v4->length);
    set_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
    // Lets localhost:<host port> be DNATed to a pod behind the bridge.
    set_sysctl("/proc/sys/net/ipv4/conf/" + options_.bridge_name + "/route_localnet", "1");
    nft_.ensure(v4->to_string());
  }
  if (const auto& v6 = host_.cidrs.ipv6) {
    if (::access("/proc/sys/net/ipv6", F_OK) != 0) {
      throw Error(ErrorKind::kFailedPrecondition,
                  "IPv6 pod CIDR " + v6->to_string() + " but the kernel has IPv6 disabled");
    }
    const std::string conf = "/proc/sys/net/ipv6/conf/" + options_.bridge_name + "/";
    set_sysctl(conf + "disable_ipv6", "0");
    set_sysctl(conf + "accept_dad", "0");
    add_ipv6_address(sock, bridge, v6->first_host(), v6->length);
    // The IPv6 twin of ip_forward (host-wide; documented with the pod CIDR option).
    set_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1");
    nft6_.ensure(v6->to_string());
  }
  host_.bridge_ifindex = bridge;
  host_.mtu = mtu;
  host_ready_ = true;
  return host_;
}

void BuiltinNetwork::set_pod_cidr(const std::string& cidr) {
  PodCidrs cidrs = parse_pod_cidrs(cidr);
  std::lock_guard lock(host_mutex_);
  if (cidrs == host_.cidrs) return;
  host_.cidrs = cidrs;
  host_ready_ = false;  // the next setup adds the new gateway addresses and masquerade sources
}

PodNetworkResult BuiltinNetwork::setup(const PodNetworkRequest& request, PodRecord& record) {
  HostState host = ensure_host();
  UniqueFd netns = open_netns(request.netns_path);
  const auto& v4 = host.cidrs.ipv4;
  const auto& v6 = host.cidrs.ipv6;

  uint32_t ip = 0;
  if (v4) ip = ipam_.allocate(*v4, request.sandbox_id);
  Cleanup release_ip([&] {
    if (ip) ipam_.release(ip, request.sandbox_id);
  });
  Ipv6Address ip6 = 0;
  if (v6) ip6 = ipam_.allocate(*v6, request.sandbox_id);
  Cleanup release_ip6([&] {
    if (ip6) ipam_.release_ipv6(ip6, request.sandbox_id);
  });

  RouteSocket sock;
  std::string veth;
  int veth_index = 0;
  bool bridge_remade = false;
  for (int attempt = 0;;) {
    veth = host_veth_name(request.sandbox_id, attempt);
    try {
      veth_index = create_veth_into_netns(sock, veth, kPodIfname, netns.get(),
                                          host.bridge_ifindex, host.mtu);
      break;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kAlreadyExists && !bridge_remade &&
          link_index(sock, options_.bridge_name) != host.bridge_ifindex) {
        // The bridge went away under us (deleted by hand; the kernel says EINVAL for the
        // missing master): make it again, once.
        bridge_remade = true;
        {
          std::lock_guard lock(host_mutex_);
          host_ready_ = false;
        }
        host = ensure_host();
        continue;
      }
      if (e.kind() != ErrorKind::kAlreadyExists || attempt >= 3) throw;
      // Either the host name is taken (another pod with the same id prefix) or eth0 exists.
      RouteSocket probe = RouteSocket::in_netns(netns.get());
      if (link_index(probe, kPodIfname) != 0) {
        throw Error(ErrorKind::kAlreadyExists,
                    "network namespace " + request.netns_path + " already has " + kPodIfname);
      }
      ++attempt;
    }
  }
  // Deleting a veth is slow (15-33 ms) but only happens on this failure path.
  Cleanup delete_veth([&] { delete_link(sock, veth); });
  set_hairpin(sock, veth_index);

  {
    std::optional<NetnsEntry> inside;
    if (v6) {
      // IPv6 sysctls of the pod's eth0: the files under /proc/sys/net are those of the netns the
      // opening thread is in. No DAD (the address is crisp's own): usable at once.
      inside.emplace(netns.get());
      const std::string conf = std::string("/proc/sys/net/ipv6/conf/") + kPodIfname + "/";
      set_sysctl(conf + "disable_ipv6", "0");
      set_sysctl(conf + "accept_dad", "0");
    }
    RouteSocket pod = inside ? RouteSocket() : RouteSocket::in_netns(netns.get());
    inside.reset();
    int eth0 = link_index(pod, kPodIfname);
    if (eth0 == 0) throw Error(ErrorKind::kInternal, "eth0 missing in " + request.netns_path);
    if (v4) add_ipv4_address(pod, eth0, ip, v4->length);
    set_link_up(pod, eth0);
    if (v6) add_ipv6_address(pod, eth0, ip6, v6->length);
    if (v4) add_default_route(pod, eth0, v4->first_host());
    if (v6) add_ipv6_default_route(pod, eth0, v6->first_host());
  }

  record.sandbox_id = request.sandbox_id;
  record.mode = "builtin";
  record.ip = v4 ? format_ipv4(ip) : "";
  record.ipv6 = v6 ? format_ipv6(ip6) : "";
  record.host_veth = veth;
  record.netns_path = request.netns_path;
  record.port_mappings.clear();
  for (const auto& m : request.port_mappings) {
    if ((v4 && host_port_applies(IpFamily::kIpv4, m)) || (v6 && host_port_applies(IpFamily::kIpv6, m))) {
      record.port_mappings.push_back(m);
    }
  }

  if (v4) nft_.add_host_ports(request.sandbox_id, record.ip, request.port_mappings);
  Cleanup remove_ports([&] {
    if (v4) nft_.remove_host_ports(request.sandbox_id, record.ip, request.port_mappings);
  });
  if (v6) nft6_.add_host_ports(request.sandbox_id, record.ipv6, request.port_mappings);

  remove_ports.dismiss();
  delete_veth.dismiss();
  release_ip6.dismiss();
  release_ip.dismiss();

  PodNetworkResult result;
  result.interface = kPodIfname;
  std::string gateway4 = v4 ? format_ipv4(v4->first_host()) : "";
  std::string gateway6 = v6 ? format_ipv6(v6->first_host()) : "";
  bool v6_first = !v4 || (v6 && host.cidrs.ipv6_primary);
  result.ip = v6_first ? record.ipv6 : record.ip;
  result.gateway = v6_first ? gateway6 : gateway4;
  if (v4 && v6) result.additional_ips.push_back(v6_first ? record.ip : record.ipv6);
  return result;
}

void BuiltinNetwork::teardown(const PodRecord& record, bool delete_veth) {
  if (!record.port_mappings.empty()) {
    if (!record.ip.empty()) nft_.remove_host_ports(record.sandbox_id, record.ip, record.port_mappings);
    if (!record.ipv6.empty()) nft6_.remove_host_ports(record.sandbox_id, record.ipv6, record.port_mappings);
  }
  if (!record.ip.empty()) ipam_.release(parse_ipv4(record.ip), record.sandbox_id);
  if (!record.ipv6.empty()) ipam_.release_ipv6(parse_ipv6(record.ipv6), record.sandbox_id);
  if (delete_veth && !record.host_veth.empty()) {
    RouteSocket sock;
    delete_link(sock, record.host_veth);
  }
}

void BuiltinNetwork::check(const PodRecord& record) {
  uint32_t ip = record.ip.empty() ? 0 : parse_ipv4(record.ip);
  Ipv6Address ip6 = record.ipv6.empty() ? 0 : parse_ipv6(record.ipv6);
  if (ip && ipam_.owner(ip) != record.sandbox_id) {
    throw Error(ErrorKind::kInternal, "IP " + record.ip + " is not allocated to sandbox " + record.sandbox_id);
  }
  if (ip6 && ipam_.ipv6_owner(ip6) != record.sandbox_id) {
    throw Error(ErrorKind::kInternal, "IP " + record.ipv6 + " is not allocated to sandbox " + record.sandbox_id);
  }
  RouteSocket sock;
  if (link_index(sock, record.host_veth) == 0) {
    throw Error(ErrorKind::kNotFound, "host veth " + record.host_veth + " of sandbox " +
                                          record.sandbox_id + " is missing");
  }
  UniqueFd netns = open_netns(record.netns_path);
  RouteSocket pod = RouteSocket::in_netns(netns.get());
  int eth0 = link_index(pod, kPodIfname);
  if (eth0 == 0 || (ip && !has_ipv4_address(pod, eth0, ip))) {
    throw Error(ErrorKind::kNotFound, "eth0 with " + record.ip + " missing in " + record.netns_path);
  }
  if (ip6 && !has_ipv6_address(pod, eth0, ip6)) {
    throw Error(ErrorKind::kNotFound, "eth0 with " + record.ipv6 + " missing in " + record.netns_path);
  }
}

void BuiltinNetwork::recover(const std::set<std::string>& keep_owners,
                             const std::set<std::string>& live_veths) {
  for (const auto& [address, owner] : ipam_.allocations()) {
    if (!keep_owners.count(owner)) ipam_.release(address, owner);
  }
  for (const auto& [address, owner] : ipam_.ipv6_allocations()) {
    if (!keep_owners.count(owner)) ipam_.release_ipv6(address, owner);
  }
  for (NftRules* nft : {&nft_, &nft6_}) {
    for (const auto& owner : nft->owners()) {
      if (!keep_owners.count(owner)) nft->remove_owner(owner);
    }
  }
  RouteSocket sock;
  int bridge = link_index(sock, options_.bridge_name);
  if (bridge == 0) return;
  for (const auto& link : list_links(sock)) {
    if (link.master == bridge && link.name.rfind("veth", 0) == 0 && !live_veths.count(link.name)) {
      delete_link(sock, link.name);
    }
  }
}

}  // namespace crisp::network
