#include "runtime/network_stats.h"

#include <fcntl.h>
#include <sched.h>

#include <cerrno>
#include <sstream>
#include <thread>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"

namespace crisp::runtime {

std::vector<NetworkInterfaceStats> parse_proc_net_dev(const std::string& content) {
  std::vector<NetworkInterfaceStats> out;
  std::istringstream lines(content);
  std::string line;
  while (std::getline(lines, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;  // the two header lines have '|' but no ':'
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    if (name.empty() || name == "lo") continue;
    std::istringstream fields(line.substr(colon + 1));
    uint64_t v[16] = {};
    int n = 0;
    while (n < 16 && fields >> v[n]) ++n;
    if (n < 16) continue;
    NetworkInterfaceStats s;
    s.name = name;
    s.rx_bytes = v[0];
    s.rx_packets = v[1];
    s.rx_errors = v[2];
    s.rx_dropped = v[3];
    s.tx_bytes = v[8];
    s.tx_packets = v[9];
    s.tx_errors = v[10];
    s.tx_dropped = v[11];
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<NetworkInterfaceStats> read_netns_interface_stats(const std::string& netns_path) {
  UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) {
    throw_errno(errno == ENOENT ? ErrorKind::kNotFound : ErrorKind::kInternal, errno,
                "open network namespace " + netns_path);
  }
  std::string content;
  int error = 0;
  std::string failed;
  // The thread's netns is dropped with the thread; /proc/thread-self/net is that thread's view.
  std::thread reader([&] {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      error = errno;
      failed = "join network namespace " + netns_path;
      return;
    }
    try {
      content = read_file("/proc/thread-self/net/dev");
    } catch (const std::exception& e) {
      failed = e.what();
    }
  });
  reader.join();
  if (error != 0) throw_errno(ErrorKind::kInternal, error, failed);
  if (!failed.empty()) throw Error(ErrorKind::kInternal, "read /proc/net/dev of " + netns_path + ": " + failed);
  return parse_proc_net_dev(content);
}

}  // namespace crisp::runtime
