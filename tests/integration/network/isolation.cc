// Before main (still single-threaded): a private netns and mount namespace for the whole test
// process, with lo up and a sysfs that shows this netns' links.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>

#include <cstdio>
#include <cstdlib>

#include "network/netlink.h"

namespace {

bool isolate() {
  if (::unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) {
    std::perror("network_integration_test: unshare(CLONE_NEWNET|CLONE_NEWNS) (needs root)");
    std::exit(1);
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    std::perror("make / private");
    std::exit(1);
  }
  if (::mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    std::perror("mount sysfs");
    std::exit(1);
  }
  crisp::network::RouteSocket sock;
  crisp::network::set_link_up(sock, "lo");
  return true;
}

[[maybe_unused]] const bool isolated = isolate();

}  // namespace
