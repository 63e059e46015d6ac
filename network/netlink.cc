#include "network/netlink.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include <cstring>
#include <memory>

#include "network/netns.h"
#include "runtime/base/error.h"

namespace crisp::network {

namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using LinkPtr = std::unique_ptr<rtnl_link, Deleter<rtnl_link, rtnl_link_put>>;
using AddrPtr = std::unique_ptr<rtnl_addr, Deleter<rtnl_addr, rtnl_addr_put>>;
using RoutePtr = std::unique_ptr<rtnl_route, Deleter<rtnl_route, rtnl_route_put>>;
using NlAddrPtr = std::unique_ptr<nl_addr, Deleter<nl_addr, nl_addr_put>>;
using CachePtr = std::unique_ptr<nl_cache, Deleter<nl_cache, nl_cache_free>>;

ErrorKind kind_of(int nl_error) {
  switch (nl_error < 0 ? -nl_error : nl_error) {
    case NLE_EXIST: return ErrorKind::kAlreadyExists;
    case NLE_OBJ_NOTFOUND:
    case NLE_NODEV: return ErrorKind::kNotFound;
    case NLE_PERM: return ErrorKind::kPermissionDenied;
    default: return ErrorKind::kInternal;
  }
}

// The kernel's errno of the last failed request of this thread: libnl folds the errnos it does
// not know (ENETDOWN, ENOTCONN, ...) into "Unspecific failure".
thread_local int last_kernel_errno = 0;

int record_kernel_error(sockaddr_nl*, nlmsgerr* error, void*) {
  last_kernel_errno = -error->error;
  return NL_STOP;  // libnl then returns its usual error code
}

[[noreturn]] void throw_nl(int nl_error, const std::string& what) {
  std::string text = nl_geterror(nl_error);
  int code = nl_error < 0 ? -nl_error : nl_error;
  if (code == NLE_FAILURE && last_kernel_errno != 0) text = std::strerror(last_kernel_errno);
  last_kernel_errno = 0;
  throw Error(kind_of(nl_error), "netlink: " + what + ": " + text);
}

NlAddrPtr ipv4_nl_addr(uint32_t address, int prefix_length) {
  uint32_t be = htonl(address);
  NlAddrPtr addr(nl_addr_build(AF_INET, &be, sizeof be));
  if (!addr) throw Error(ErrorKind::kResourceExhausted, "netlink: out of memory");
  nl_addr_set_prefixlen(addr.get(), prefix_length);
  return addr;
}

NlAddrPtr ipv6_nl_addr(Ipv6Address address, int prefix_length) {
  unsigned char bytes[16];
  ipv6_to_bytes(address, bytes);
  NlAddrPtr addr(nl_addr_build(AF_INET6, bytes, sizeof bytes));
  if (!addr) throw Error(ErrorKind::kResourceExhausted, "netlink: out of memory");
  nl_addr_set_prefixlen(addr.get(), prefix_length);
  return addr;
}

// Whether ifindex holds the address (family AF_INET or AF_INET6, len bytes in network order).
bool has_address(const RouteSocket& sock, int ifindex, int family, const void* bytes, unsigned len) {
  nl_cache* raw = nullptr;
  int err = rtnl_addr_alloc_cache(sock.get(), &raw);
  if (err < 0) throw_nl(err, "list addresses");
  CachePtr cache(raw);
  for (nl_object* obj = nl_cache_get_first(cache.get()); obj; obj = nl_cache_get_next(obj)) {
    auto* addr = reinterpret_cast<rtnl_addr*>(obj);
    if (rtnl_addr_get_ifindex(addr) != ifindex || rtnl_addr_get_family(addr) != family) continue;
    nl_addr* local = rtnl_addr_get_local(addr);
    if (local && nl_addr_get_len(local) == len &&
        std::memcmp(nl_addr_get_binary_addr(local), bytes, len) == 0) {
      return true;
    }
  }
  return false;
}

// Adds local/prefix to ifindex with the given IFA_F_* flags; an address already there is fine.
void add_address(const RouteSocket& sock, int ifindex, int family, nl_addr* local, int prefix_length,
                 unsigned flags) {
  AddrPtr addr(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(addr.get(), ifindex);
  rtnl_addr_set_family(addr.get(), family);
  int err = rtnl_addr_set_local(addr.get(), local);
  if (err < 0) throw_nl(err, "address");
  rtnl_addr_set_prefixlen(addr.get(), prefix_length);
  if (flags) rtnl_addr_set_flags(addr.get(), flags);
  err = rtnl_addr_add(sock.get(), addr.get(), 0);
  if (err < 0 && err != -NLE_EXIST) throw_nl(err, "add address");
}

// Default route of family via gateway on ifindex; one already there is fine.
void add_default_route_via(const RouteSocket& sock, int ifindex, int family, nl_addr* dst, nl_addr* gateway) {
  RoutePtr route(rtnl_route_alloc());
  rtnl_route_set_family(route.get(), family);
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
  rtnl_route_set_protocol(route.get(), RTPROT_BOOT);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  rtnl_route_set_dst(route.get(), dst);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (!nh) throw Error(ErrorKind::kResourceExhausted, "netlink: out of memory");
  rtnl_route_nh_set_gateway(nh, gateway);
  rtnl_route_nh_set_ifindex(nh, ifindex);
  rtnl_route_add_nexthop(route.get(), nh);  // the route owns nh now
  int err = rtnl_route_add(sock.get(), route.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0 && err != -NLE_EXIST) throw_nl(err, "add default route");
}

LinkPtr get_link(const RouteSocket& sock, const std::string& name) {
  rtnl_link* link = nullptr;
  int err = rtnl_link_get_kernel(sock.get(), 0, name.c_str(), &link);
  if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV) return nullptr;
  if (err < 0) throw_nl(err, "get link " + name);
  return LinkPtr(link);
}

}  // namespace

RouteSocket::RouteSocket() {
  sock_ = nl_socket_alloc();
  if (!sock_) throw Error(ErrorKind::kResourceExhausted, "netlink: cannot allocate socket");
  int err = nl_connect(sock_, NETLINK_ROUTE);
  if (err < 0) {
    nl_socket_free(sock_);
    sock_ = nullptr;
    throw_nl(err, "connect");
  }
  // libnl opens its sockets with SOCK_CLOEXEC.
  nl_socket_modify_err_cb(sock_, NL_CB_CUSTOM, record_kernel_error, nullptr);
}

RouteSocket RouteSocket::in_netns(int netns_fd) {
  NetnsEntry entry(netns_fd);
  return RouteSocket();
}

RouteSocket::~RouteSocket() {
  if (sock_) nl_socket_free(sock_);
}

RouteSocket::RouteSocket(RouteSocket&& other) noexcept : sock_(other.sock_) { other.sock_ = nullptr; }

int link_index(const RouteSocket& sock, const std::string& name) {
  LinkPtr link = get_link(sock, name);
  return link ? rtnl_link_get_ifindex(link.get()) : 0;
}

std::vector<LinkInfo> list_links(const RouteSocket& sock) {
  nl_cache* raw = nullptr;
  int err = rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &raw);
  if (err < 0) throw_nl(err, "list links");
  CachePtr cache(raw);
  std::vector<LinkInfo> result;
  for (nl_object* obj = nl_cache_get_first(cache.get()); obj; obj = nl_cache_get_next(obj)) {
    auto* link = reinterpret_cast<rtnl_link*>(obj);
    LinkInfo info;
    info.ifindex = rtnl_link_get_ifindex(link);
    const char* name = rtnl_link_get_name(link);
    info.name = name ? name : "";
    info.master = rtnl_link_get_master(link);
    info.mtu = rtnl_link_get_mtu(link);
    info.up = (rtnl_link_get_flags(link) & IFF_UP) != 0;
    result.push_back(std::move(info));
  }
  return result;
}

unsigned default_route_mtu(const RouteSocket& sock) {
  nl_cache* raw = nullptr;
  int err = rtnl_route_alloc_cache(sock.get(), AF_INET, 0, &raw);
  if (err < 0) throw_nl(err, "list routes");
  CachePtr cache(raw);
  int ifindex = 0;
  for (nl_object* obj = nl_cache_get_first(cache.get()); obj; obj = nl_cache_get_next(obj)) {
    auto* route = reinterpret_cast<rtnl_route*>(obj);
    nl_addr* dst = rtnl_route_get_dst(route);
    if (rtnl_route_get_table(route) != RT_TABLE_MAIN) continue;
    if (dst && nl_addr_get_prefixlen(dst) != 0) continue;
    if (rtnl_route_get_nnexthops(route) < 1) continue;
    ifindex = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(route, 0));
    break;
  }
  if (ifindex == 0) return 0;
  for (const auto& link : list_links(sock)) {
    if (link.ifindex == ifindex) return link.mtu;
  }
  return 0;
}

int ensure_bridge(const RouteSocket& sock, const std::string& name, unsigned mtu) {
  if (LinkPtr existing = get_link(sock, name)) {
    if (!(rtnl_link_get_flags(existing.get()) & IFF_UP)) {
      LinkPtr change(rtnl_link_alloc());
      rtnl_link_set_flags(change.get(), IFF_UP);
      int err = rtnl_link_change(sock.get(), existing.get(), change.get(), 0);
      if (err < 0) throw_nl(err, "set bridge " + name + " up");
    }
    return rtnl_link_get_ifindex(existing.get());
  }
  LinkPtr link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), name.c_str());
  int err = rtnl_link_set_type(link.get(), "bridge");
  if (err < 0) throw_nl(err, "bridge type");
  rtnl_link_set_flags(link.get(), IFF_UP);
  if (mtu) rtnl_link_set_mtu(link.get(), mtu);
  err = rtnl_link_add(sock.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0 && err != -NLE_EXIST) throw_nl(err, "create bridge " + name);
  int ifindex = link_index(sock, name);
  if (ifindex == 0) throw Error(ErrorKind::kInternal, "bridge " + name + " vanished after creation");
  return ifindex;
}

bool has_ipv4_address(const RouteSocket& sock, int ifindex, uint32_t address) {
  uint32_t be = htonl(address);
  return has_address(sock, ifindex, AF_INET, &be, sizeof be);
}

void add_ipv4_address(const RouteSocket& sock, int ifindex, uint32_t address, int prefix_length) {
  NlAddrPtr local = ipv4_nl_addr(address, prefix_length);
  add_address(sock, ifindex, AF_INET, local.get(), prefix_length, 0);
}

bool has_ipv6_address(const RouteSocket& sock, int ifindex, Ipv6Address address) {
  unsigned char bytes[16];
  ipv6_to_bytes(address, bytes);
  return has_address(sock, ifindex, AF_INET6, bytes, sizeof bytes);
}

void add_ipv6_address(const RouteSocket& sock, int ifindex, Ipv6Address address, int prefix_length) {
  NlAddrPtr local = ipv6_nl_addr(address, prefix_length);
  add_address(sock, ifindex, AF_INET6, local.get(), prefix_length, IFA_F_NODAD);
}

int create_veth_into_netns(const RouteSocket& sock, const std::string& host_name,
                           const std::string& peer_name, int netns_fd, int master, unsigned mtu) {
  LinkPtr link(rtnl_link_veth_alloc());
  if (!link) throw Error(ErrorKind::kResourceExhausted, "netlink: out of memory");
  rtnl_link* peer = rtnl_link_veth_get_peer(link.get());
  rtnl_link_set_name(link.get(), host_name.c_str());
  rtnl_link_set_flags(link.get(), IFF_UP);
  if (master) rtnl_link_set_master(link.get(), master);
  rtnl_link_set_name(peer, peer_name.c_str());
  rtnl_link_set_ns_fd(peer, netns_fd);
  if (mtu) {
    rtnl_link_set_mtu(link.get(), mtu);
    rtnl_link_set_mtu(peer, mtu);
  }
  int err = rtnl_link_add(sock.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL);
  rtnl_link_put(peer);  // rtnl_link_veth_get_peer took a reference
  if (err < 0) throw_nl(err, "create veth " + host_name);
  int ifindex = link_index(sock, host_name);
  if (ifindex == 0) throw Error(ErrorKind::kInternal, "veth " + host_name + " vanished after creation");
  return ifindex;
}

void set_hairpin(const RouteSocket& sock, int ifindex) {
  nl_msg* msg = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
  if (!msg) throw Error(ErrorKind::kResourceExhausted, "netlink: out of memory");
  ifinfomsg ifi{};
  ifi.ifi_family = AF_BRIDGE;
  ifi.ifi_index = ifindex;
  int err = nlmsg_append(msg, &ifi, sizeof ifi, NLMSG_ALIGNTO);
  nlattr* protinfo = err < 0 ? nullptr : nla_nest_start(msg, IFLA_PROTINFO | NLA_F_NESTED);
  if (!protinfo || nla_put_u8(msg, IFLA_BRPORT_MODE, 1) < 0) {
    nlmsg_free(msg);
    throw Error(ErrorKind::kInternal, "netlink: cannot build hairpin message");
  }
  nla_nest_end(msg, protinfo);
  err = nl_send_sync(sock.get(), msg);  // frees msg
  if (err < 0) throw_nl(err, "set hairpin mode");
}

void add_default_route(const RouteSocket& sock, int ifindex, uint32_t gateway) {
  NlAddrPtr dst = ipv4_nl_addr(0, 0);
  NlAddrPtr gw = ipv4_nl_addr(gateway, 32);
  add_default_route_via(sock, ifindex, AF_INET, dst.get(), gw.get());
}

void add_ipv6_default_route(const RouteSocket& sock, int ifindex, Ipv6Address gateway) {
  NlAddrPtr dst = ipv6_nl_addr(0, 0);
  NlAddrPtr gw = ipv6_nl_addr(gateway, 128);
  add_default_route_via(sock, ifindex, AF_INET6, dst.get(), gw.get());
}

void set_link_up(const RouteSocket& sock, int ifindex) {
  LinkPtr link(rtnl_link_alloc());
  rtnl_link_set_ifindex(link.get(), ifindex);
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  int err = rtnl_link_change(sock.get(), link.get(), change.get(), 0);
  if (err < 0) throw_nl(err, "set link " + std::to_string(ifindex) + " up");
}

void set_link_up(const RouteSocket& sock, const std::string& name) {
  LinkPtr link = get_link(sock, name);
  if (!link) throw Error(ErrorKind::kNotFound, "no link " + name);
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  int err = rtnl_link_change(sock.get(), link.get(), change.get(), 0);
  if (err < 0) throw_nl(err, "set " + name + " up");
}

bool delete_link(const RouteSocket& sock, const std::string& name) {
  LinkPtr link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), name.c_str());
  int err = rtnl_link_delete(sock.get(), link.get());
  if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV) return false;
  if (err < 0) throw_nl(err, "delete link " + name);
  return true;
}

}  // namespace crisp::network
