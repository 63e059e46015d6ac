#pragma once
// Network counters of a pod: the interfaces of its pinned network namespace, read from
// /proc/net/dev by a short-lived thread that joined the namespace (setns affects only that
// thread; crispd's own threads stay in the host namespace).
#include <string>
#include <vector>

#include "runtime/types.h"

namespace crisp::runtime {

// Every interface of the namespace pinned at netns_path except the loopback (cAdvisor leaves it
// out too), in /proc/net/dev order. Throws crisp::Error (kNotFound when the pin is gone).
std::vector<NetworkInterfaceStats> read_netns_interface_stats(const std::string& netns_path);

// Parses /proc/net/dev (two header lines, then "name: rx_bytes rx_packets rx_errs rx_drop ...
// tx_bytes tx_packets tx_errs tx_drop ..."); lo is skipped.
std::vector<NetworkInterfaceStats> parse_proc_net_dev(const std::string& content);

}  // namespace crisp::runtime
