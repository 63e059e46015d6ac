#pragma once
// IPv4 addresses and prefixes as host-order integers, parsed and printed with inet_pton/ntop.
#include <cstdint>
#include <string>

namespace crisp::network {

struct Ipv4Prefix {
  uint32_t network = 0;  // host byte order, host bits cleared
  int length = 0;        // 0..32

  uint32_t mask() const { return length == 0 ? 0 : ~uint32_t{0} << (32 - length); }
  uint32_t broadcast() const { return network | ~mask(); }
  bool contains(uint32_t address) const { return (address & mask()) == network; }
  // First host address (the bridge/gateway address in the built-in mode).
  uint32_t first_host() const { return network + 1; }
  std::string to_string() const;
};

// "10.88.0.0/16" -> prefix (host bits cleared). kInvalidArgument on anything else.
Ipv4Prefix parse_ipv4_prefix(const std::string& text);
// "10.88.0.2" -> host-order address. kInvalidArgument on anything else.
uint32_t parse_ipv4(const std::string& text);
std::string format_ipv4(uint32_t address);

}  // namespace crisp::network
