#pragma once
// The pod CIDR setting of the built-in mode: one CIDR or the kubelet's dual-stack list
// ("10.88.0.0/16,fd00:88::/64"), at most one per address family. The first one listed is the
// pod's primary IP family.
#include <optional>
#include <string>

#include "network/ipv4.h"
#include "network/ipv6.h"

namespace crisp::network {

struct PodCidrs {
  std::optional<Ipv4Prefix> ipv4;
  std::optional<Ipv6Prefix> ipv6;
  bool ipv6_primary = false;  // the IPv6 CIDR came first

  bool operator==(const PodCidrs& other) const;
  std::string to_string() const;  // canonical, in list order
};

// kInvalidArgument on an empty list, a bad CIDR or two CIDRs of one family.
PodCidrs parse_pod_cidrs(const std::string& text);

}  // namespace crisp::network
