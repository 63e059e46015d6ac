#include "network/builtin_network.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <functional>

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
    : options_(options), ipam_(options.state_dir + "/ipam"), nft_(options.nft_table) {
  host_.prefix = parse_ipv4_prefix(options.pod_cidr);
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
  add_ipv4_address(sock, bridge, host_.prefix.first_host(), host_.prefix.length);
  set_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
  // Lets localhost:<host port> be DNATed to a pod behind the bridge.
  set_sysctl("/proc/sys/net/ipv4/conf/" + options_.bridge_name + "/route_localnet", "1");
  nft_.ensure(host_.prefix.to_string());
  host_.bridge_ifindex = bridge;
  host_.mtu = mtu;
  host_ready_ = true;
  return host_;
}

void BuiltinNetwork::set_pod_cidr(const std::string& cidr) {
  Ipv4Prefix prefix = parse_ipv4_prefix(cidr);
  std::lock_guard lock(host_mutex_);
  if (prefix.network == host_.prefix.network && prefix.length == host_.prefix.length) return;
  host_.prefix = prefix;
  host_ready_ = false;  // the next setup adds the new gateway address and masquerade source
}

PodNetworkResult BuiltinNetwork::setup(const PodNetworkRequest& request, PodRecord& record) {
  HostState host = ensure_host();
  UniqueFd netns = open_netns(request.netns_path);

  const uint32_t ip = ipam_.allocate(host.prefix, request.sandbox_id);
  Cleanup release_ip([&] { ipam_.release(ip, request.sandbox_id); });

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
    RouteSocket pod = RouteSocket::in_netns(netns.get());
    int eth0 = link_index(pod, kPodIfname);
    if (eth0 == 0) throw Error(ErrorKind::kInternal, "eth0 missing in " + request.netns_path);
    add_ipv4_address(pod, eth0, ip, host.prefix.length);
    set_link_up(pod, eth0);
    add_default_route(pod, eth0, host.prefix.first_host());
  }

  nft_.add_host_ports(request.sandbox_id, ip, request.port_mappings);

  record.sandbox_id = request.sandbox_id;
  record.mode = "builtin";
  record.ip = format_ipv4(ip);
  record.host_veth = veth;
  record.netns_path = request.netns_path;
  record.port_mappings.clear();
  for (const auto& m : request.port_mappings) {
    if (m.host_port > 0 && m.host_ip.find(':') == std::string::npos) record.port_mappings.push_back(m);
  }
  delete_veth.dismiss();
  release_ip.dismiss();

  PodNetworkResult result;
  result.ip = record.ip;
  result.interface = kPodIfname;
  result.gateway = format_ipv4(host.prefix.first_host());
  return result;
}

void BuiltinNetwork::teardown(const PodRecord& record, bool delete_veth) {
  uint32_t ip = record.ip.empty() ? 0 : parse_ipv4(record.ip);
  if (!record.port_mappings.empty()) {
    nft_.remove_host_ports(record.sandbox_id, ip, record.port_mappings);
  }
  if (ip) ipam_.release(ip, record.sandbox_id);
  if (delete_veth && !record.host_veth.empty()) {
    RouteSocket sock;
    delete_link(sock, record.host_veth);
  }
}

void BuiltinNetwork::check(const PodRecord& record) {
  uint32_t ip = parse_ipv4(record.ip);
  if (ipam_.owner(ip) != record.sandbox_id) {
    throw Error(ErrorKind::kInternal, "IP " + record.ip + " is not allocated to sandbox " + record.sandbox_id);
  }
  RouteSocket sock;
  if (link_index(sock, record.host_veth) == 0) {
    throw Error(ErrorKind::kNotFound, "host veth " + record.host_veth + " of sandbox " +
                                          record.sandbox_id + " is missing");
  }
  UniqueFd netns = open_netns(record.netns_path);
  RouteSocket pod = RouteSocket::in_netns(netns.get());
  int eth0 = link_index(pod, kPodIfname);
  if (eth0 == 0 || !has_ipv4_address(pod, eth0, ip)) {
    throw Error(ErrorKind::kNotFound, "eth0 with " + record.ip + " missing in " + record.netns_path);
  }
}

void BuiltinNetwork::recover(const std::set<std::string>& live_sandbox_ids,
                             const std::set<std::string>& live_veths) {
  for (const auto& [address, owner] : ipam_.allocations()) {
    if (!live_sandbox_ids.count(owner)) ipam_.release(address, owner);
  }
  for (const auto& owner : nft_.owners()) {
    if (!live_sandbox_ids.count(owner)) nft_.remove_owner(owner);
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
