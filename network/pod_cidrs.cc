#include "network/pod_cidrs.h"

#include "runtime/base/error.h"

namespace crisp::network {

namespace {

std::string trimmed(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

}  // namespace

bool PodCidrs::operator==(const PodCidrs& other) const { return to_string() == other.to_string(); }

std::string PodCidrs::to_string() const {
  std::string v4 = ipv4 ? ipv4->to_string() : "";
  std::string v6 = ipv6 ? ipv6->to_string() : "";
  if (v4.empty()) return v6;
  if (v6.empty()) return v4;
  return ipv6_primary ? v6 + "," + v4 : v4 + "," + v6;
}

PodCidrs parse_pod_cidrs(const std::string& text) {
  PodCidrs cidrs;
  bool first = true;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    std::string cidr = trimmed(text.substr(pos, comma - pos));
    pos = comma + 1;
    if (cidr.empty()) continue;
    if (cidr.find(':') != std::string::npos) {
      if (cidrs.ipv6) {
        throw Error(ErrorKind::kInvalidArgument, "pod CIDRs \"" + text + "\" hold two IPv6 ranges");
      }
      cidrs.ipv6 = parse_ipv6_prefix(cidr);
      if (cidrs.ipv6->length > 126) {
        throw Error(ErrorKind::kInvalidArgument, "pod CIDR " + cidr + " is too small for pod addresses");
      }
      if (first) cidrs.ipv6_primary = true;
    } else {
      if (cidrs.ipv4) {
        throw Error(ErrorKind::kInvalidArgument, "pod CIDRs \"" + text + "\" hold two IPv4 ranges");
      }
      cidrs.ipv4 = parse_ipv4_prefix(cidr);
    }
    first = false;
  }
  if (!cidrs.ipv4 && !cidrs.ipv6) {
    throw Error(ErrorKind::kInvalidArgument, "no pod CIDR in \"" + text + "\"");
  }
  return cidrs;
}

}  // namespace crisp::network
