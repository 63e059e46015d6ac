#pragma once
// Host-local style IPAM: one file per allocated address in a directory, named by the address and
// holding the owner's sandbox id. Files are created with O_EXCL, so an address is never handed
// out twice, by any thread, process or crispd restart. Allocation goes round-robin from the last
// address handed out in the range (a hint file), so a released address is not reused at once.
//
// Durability: files are not fsynced. A crispd crash keeps them (page cache); a host crash loses
// pods and their netns anyway, and recover() releases whatever it finds without a live owner.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "network/ipv4.h"

namespace crisp::network {

class HostLocalIpam {
 public:
  explicit HostLocalIpam(std::string dir);

  // Allocates a free address in prefix (not the network, first host (gateway) or broadcast
  // address) for sandbox_id. kResourceExhausted when the range is full.
  uint32_t allocate(const Ipv4Prefix& prefix, const std::string& sandbox_id);
  // Releases address if sandbox_id owns it. Returns whether a file was removed.
  bool release(uint32_t address, const std::string& sandbox_id);
  // Releases every address owned by sandbox_id (scans the directory). Returns how many.
  int release_owner(const std::string& sandbox_id);
  // Address -> owner of every allocation.
  std::map<uint32_t, std::string> allocations() const;
  // Owner of address, or "" if free.
  std::string owner(uint32_t address) const;

 private:
  std::string path_of(uint32_t address) const;
  std::string hint_path(const Ipv4Prefix& prefix) const;

  std::string dir_;
  std::mutex hint_mutex_;  // guards hints_ and the hint files
  std::map<std::string, uint32_t> hints_;  // hint file path -> last address handed out
};

}  // namespace crisp::network
