#pragma once
// Host-local style IPAM: one file per allocated address in a directory, named by the address and
// holding the owner's sandbox id. Files are created with O_EXCL, so an address is never handed
// out twice, by any thread, process or crispd restart. Allocation goes round-robin from the last
// address handed out in the range (a hint file), so a released address is not reused at once.
//
// IPv6 allocations live in the same directory (files named by the canonical IPv6 text), with the
// same guarantees.
//
// Durability: files are not fsynced. A crispd crash keeps them (page cache); a host crash loses
// pods and their netns anyway, and recover() releases whatever it finds without a live owner.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "network/ipv4.h"
#include "network/ipv6.h"

namespace crisp::network {

class HostLocalIpam {
 public:
  explicit HostLocalIpam(std::string dir);

  // Allocates a free address in prefix (not the network, first host (gateway) or broadcast
  // address) for sandbox_id. kResourceExhausted when the range is full.
  uint32_t allocate(const Ipv4Prefix& prefix, const std::string& sandbox_id);
  // Allocates a free address in an IPv6 prefix (not the subnet-router anycast address nor the
  // first host (gateway)). kResourceExhausted when the range is full.
  Ipv6Address allocate(const Ipv6Prefix& prefix, const std::string& sandbox_id);
  // Releases address if sandbox_id owns it. Returns whether a file was removed.
  bool release(uint32_t address, const std::string& sandbox_id);
  bool release_ipv6(Ipv6Address address, const std::string& sandbox_id);
  // Releases every address (both families) owned by sandbox_id (scans the directory). Returns how many.
  int release_owner(const std::string& sandbox_id);
  // Address -> owner of every allocation.
  std::map<uint32_t, std::string> allocations() const;
  std::map<Ipv6Address, std::string> ipv6_allocations() const;
  // Owner of address, or "" if free.
  std::string owner(uint32_t address) const;
  std::string ipv6_owner(Ipv6Address address) const;

 private:
  // The address range [first, last] of one family, the hint file of its prefix and the texts.
  struct Range {
    bool ipv6 = false;
    Ipv6Address first = 0, last = 0;  // IPv4 addresses are held in the low 32 bits
    std::string hint_file, cidr;
  };
  Ipv6Address allocate_in(const Range& range, const std::string& sandbox_id);
  std::string format(bool ipv6, Ipv6Address address) const;
  std::string path_of(bool ipv6, Ipv6Address address) const;
  std::string owner_of_path(const std::string& path) const;
  bool release_path(const std::string& path, const std::string& sandbox_id);
  std::vector<std::string> file_names() const;

  std::string dir_;
  std::mutex hint_mutex_;  // guards hints_ and the hint files
  std::map<std::string, Ipv6Address> hints_;  // hint file path -> last address handed out
};

}  // namespace crisp::network
