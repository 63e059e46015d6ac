#include "network/ipv6.h"

#include <arpa/inet.h>

#include <charconv>

#include "runtime/base/error.h"

namespace crisp::network {

Ipv6Address ipv6_from_bytes(const unsigned char bytes[16]) {
  Ipv6Address address = 0;
  for (int i = 0; i < 16; ++i) address = (address << 8) | bytes[i];
  return address;
}

void ipv6_to_bytes(Ipv6Address address, unsigned char bytes[16]) {
  for (int i = 15; i >= 0; --i) {
    bytes[i] = static_cast<unsigned char>(address & 0xff);
    address >>= 8;
  }
}

Ipv6Address parse_ipv6(const std::string& text) {
  in6_addr addr{};
  if (text.find('.') != std::string::npos || inet_pton(AF_INET6, text.c_str(), &addr) != 1) {
    throw Error(ErrorKind::kInvalidArgument, "invalid IPv6 address \"" + text + "\"");
  }
  return ipv6_from_bytes(addr.s6_addr);
}

std::string format_ipv6(Ipv6Address address) {
  in6_addr addr{};
  ipv6_to_bytes(address, addr.s6_addr);
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &addr, buf, sizeof buf);
  return buf;
}

Ipv6Prefix parse_ipv6_prefix(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos) {
    throw Error(ErrorKind::kInvalidArgument, "invalid IPv6 CIDR \"" + text + "\" (no /length)");
  }
  int length = -1;
  const char* begin = text.data() + slash + 1;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, length);
  if (ec != std::errc() || ptr != end || begin == end || length < 0 || length > 128) {
    throw Error(ErrorKind::kInvalidArgument, "invalid IPv6 CIDR \"" + text + "\" (bad length)");
  }
  Ipv6Prefix prefix;
  prefix.length = length;
  prefix.network = parse_ipv6(text.substr(0, slash)) & prefix.mask();
  return prefix;
}

std::string Ipv6Prefix::to_string() const { return format_ipv6(network) + "/" + std::to_string(length); }

}  // namespace crisp::network
