#pragma once
// The rtnetlink operations of the built-in mode, through libnl-route-3. A RouteSocket is bound
// to the netns it was created in, so a pod's netns is configured without moving the thread there
// for more than the socket's creation.
#include <cstdint>
#include <string>
#include <vector>

#include "network/ipv6.h"

struct nl_sock;

namespace crisp::network {

class RouteSocket {
 public:
  RouteSocket();                             // in the calling thread's netns
  static RouteSocket in_netns(int netns_fd);  // bound to that netns
  ~RouteSocket();
  RouteSocket(RouteSocket&& other) noexcept;
  RouteSocket& operator=(RouteSocket&&) = delete;
  RouteSocket(const RouteSocket&) = delete;
  nl_sock* get() const { return sock_; }

 private:
  nl_sock* sock_ = nullptr;
};

struct LinkInfo {
  int ifindex = 0;
  std::string name;
  int master = 0;
  unsigned mtu = 0;
  bool up = false;
};

// ifindex of the link called name, 0 if there is none.
int link_index(const RouteSocket& sock, const std::string& name);
std::vector<LinkInfo> list_links(const RouteSocket& sock);
// MTU of the device of the IPv4 default route; 0 if there is none.
unsigned default_route_mtu(const RouteSocket& sock);

// Creates bridge `name` (up) if missing; returns its ifindex.
int ensure_bridge(const RouteSocket& sock, const std::string& name, unsigned mtu);
// Adds address/prefix_length to ifindex; an address already there is fine.
void add_ipv4_address(const RouteSocket& sock, int ifindex, uint32_t address, int prefix_length);
bool has_ipv4_address(const RouteSocket& sock, int ifindex, uint32_t address);
// Adds an IPv6 address with IFA_F_NODAD (usable at once, no duplicate address detection: the
// address comes from crisp's own IPAM); an address already there is fine.
void add_ipv6_address(const RouteSocket& sock, int ifindex, Ipv6Address address, int prefix_length);
bool has_ipv6_address(const RouteSocket& sock, int ifindex, Ipv6Address address);

// One RTM_NEWLINK: veth host_name (up, enslaved to master, mtu) with its peer created directly
// inside netns_fd as peer_name (down: the kernel refuses to open a peer before the pair is
// linked, ENOTCONN, so the caller sets it up inside the netns). Returns the host end's ifindex. kAlreadyExists if the name
// is taken.
int create_veth_into_netns(const RouteSocket& sock, const std::string& host_name,
                           const std::string& peer_name, int netns_fd, int master, unsigned mtu);
// Bridge port hairpin mode on (AF_BRIDGE RTM_SETLINK, IFLA_BRPORT_MODE).
void set_hairpin(const RouteSocket& sock, int ifindex);
// Default route via gateway on ifindex.
void add_default_route(const RouteSocket& sock, int ifindex, uint32_t gateway);
// IPv6 default route (::/0) via gateway on ifindex.
void add_ipv6_default_route(const RouteSocket& sock, int ifindex, Ipv6Address gateway);
// Sets the link called name up (e.g. lo in a fresh netns).
void set_link_up(const RouteSocket& sock, const std::string& name);
void set_link_up(const RouteSocket& sock, int ifindex);
// Deletes the link; a missing link is fine. Returns whether it existed.
bool delete_link(const RouteSocket& sock, const std::string& name);

}  // namespace crisp::network
