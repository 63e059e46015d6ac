// Before main (still single-threaded): the test process moves into a network namespace of its own,
// with lo up. crispd, the registry and the CNI plugins it starts inherit it, so the bridges,
// veths, nft tables, portmap's iptables chains and sysctls (ip_forward, IPv6 forwarding) they make
// never touch the host's, and the kernel removes them with the namespace when the test process
// exits, even after a crash. The mount namespace stays the host's (crispd's netns pins and
// rootfs mounts are removed by the CrispdFixture).
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "network/netlink.h"

namespace {

bool enter_private_netns() {
  if (::geteuid() != 0) return false;  // the tests skip themselves
  if (::unshare(CLONE_NEWNET) != 0) {
    std::perror("unshare(CLONE_NEWNET) (needs root)");
    std::exit(1);
  }
  crisp::network::RouteSocket sock;
  crisp::network::set_link_up(sock, "lo");
  return true;
}

[[maybe_unused]] const bool in_private_netns = enter_private_netns();

}  // namespace
