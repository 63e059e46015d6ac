#include "network/ipv4.h"

#include <arpa/inet.h>

#include <charconv>

#include "runtime/base/error.h"

namespace crisp::network {

uint32_t parse_ipv4(const std::string& text) {
  in_addr addr{};
  if (inet_pton(AF_INET, text.c_str(), &addr) != 1) {
    throw Error(ErrorKind::kInvalidArgument, "invalid IPv4 address \"" + text + "\"");
  }
  return ntohl(addr.s_addr);
}

std::string format_ipv4(uint32_t address) {
  in_addr addr{htonl(address)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr, buf, sizeof buf);
  return buf;
}

Ipv4Prefix parse_ipv4_prefix(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos) {
    throw Error(ErrorKind::kInvalidArgument, "invalid IPv4 CIDR \"" + text + "\" (no /length)");
  }
  int length = -1;
  const char* begin = text.data() + slash + 1;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, length);
  if (ec != std::errc() || ptr != end || begin == end || length < 0 || length > 32) {
    throw Error(ErrorKind::kInvalidArgument, "invalid IPv4 CIDR \"" + text + "\" (bad length)");
  }
  Ipv4Prefix prefix;
  prefix.length = length;
  prefix.network = parse_ipv4(text.substr(0, slash)) & prefix.mask();
  return prefix;
}

std::string Ipv4Prefix::to_string() const {
  return format_ipv4(network) + "/" + std::to_string(length);
}

}  // namespace crisp::network
