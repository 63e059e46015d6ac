#pragma once
// What crisp remembers about each pod's network (state_dir/pods/<sandbox id>.json), so that a pod
// is torn down by the mode that set it up and recover() knows the live pods' veths.
#include <optional>
#include <string>
#include <vector>

#include "network/network.h"

namespace crisp::network {

struct PodRecord {
  std::string sandbox_id;
  std::string mode;  // "builtin" | "cni"
  std::string ip;    // built-in: the IPv4 address ("" if none); CNI: the primary IP
  std::string ipv6;  // built-in: the IPv6 address ("" if none)
  std::string host_veth;  // built-in
  std::string netns_path;
  std::vector<PortMapping> port_mappings;  // built-in host ports (of either family)
  std::vector<std::string> ips;  // the pod's IPs as setup reported them, primary first
};

class PodRecordStore {
 public:
  explicit PodRecordStore(std::string dir);
  void save(const PodRecord& record);  // atomic replace, not fsynced (see pod_record.cc)
  std::optional<PodRecord> load(const std::string& sandbox_id) const;
  void remove(const std::string& sandbox_id);
  std::vector<std::string> sandbox_ids() const;

 private:
  std::string path_of(const std::string& sandbox_id) const;
  std::string dir_;
};

}  // namespace crisp::network
