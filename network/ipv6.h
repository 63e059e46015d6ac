#pragma once
// IPv6 addresses and prefixes as 128-bit host-order integers, parsed and printed with
// inet_pton/ntop (so the text is the canonical RFC 5952 form).
#include <string>

namespace crisp::network {

using Ipv6Address = unsigned __int128;

struct Ipv6Prefix {
  Ipv6Address network = 0;  // host bits cleared
  int length = 0;           // 0..128

  Ipv6Address mask() const { return length == 0 ? 0 : ~Ipv6Address{0} << (128 - length); }
  Ipv6Address last() const { return network | ~mask(); }
  bool contains(Ipv6Address address) const { return (address & mask()) == network; }
  // First address after the subnet-router anycast address (the bridge/gateway address of the
  // built-in mode, like host-local's default gateway).
  Ipv6Address first_host() const { return network + 1; }
  std::string to_string() const;
};

// "fd00:88::/64" -> prefix (host bits cleared). kInvalidArgument on anything else.
Ipv6Prefix parse_ipv6_prefix(const std::string& text);
// "fd00:88::2" -> address. kInvalidArgument on anything else.
Ipv6Address parse_ipv6(const std::string& text);
std::string format_ipv6(Ipv6Address address);
// 16 bytes in network order <-> address.
Ipv6Address ipv6_from_bytes(const unsigned char bytes[16]);
void ipv6_to_bytes(Ipv6Address address, unsigned char bytes[16]);

}  // namespace crisp::network
