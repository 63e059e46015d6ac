#include "network/netns.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "runtime/base/error.h"

namespace crisp::network {

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

UniqueFd open_netns(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) throw Error(ErrorKind::kNotFound, "network namespace " + path + " not found");
    throw_errno("open network namespace " + path);
  }
  struct statfs fs {};
  if (::fstatfs(fd.get(), &fs) != 0) throw_errno("statfs " + path);
  if (static_cast<unsigned long>(fs.f_type) != NSFS_MAGIC &&
      static_cast<unsigned long>(fs.f_type) != PROC_SUPER_MAGIC) {
    throw Error(ErrorKind::kInvalidArgument, path + " is not a network namespace");
  }
  return fd;
}

bool netns_exists(const std::string& path) {
  if (path.empty()) return false;
  try {
    open_netns(path);
    return true;
  } catch (const Error&) {
    return false;
  }
}

NetnsEntry::NetnsEntry(int netns_fd) {
  previous_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!previous_) throw_errno("open /proc/thread-self/ns/net");
  if (::setns(netns_fd, CLONE_NEWNET) != 0) throw_errno("setns into pod network namespace");
}

NetnsEntry::~NetnsEntry() {
  if (::setns(previous_.get(), CLONE_NEWNET) != 0) {
    std::perror("crisp: FATAL: cannot return thread to its network namespace");
    std::abort();
  }
}

}  // namespace crisp::network
