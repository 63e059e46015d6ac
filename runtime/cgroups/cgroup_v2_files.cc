#include "runtime/cgroups/cgroup_v2_files.h"

#include <sstream>

#include "runtime/base/error.h"
#include "runtime/cgroups/cgroup_files.h"
#include "runtime/cgroups/device_filter_v2.h"

namespace crisp::cgroups {

void check_v2_supported(const CgroupResources&) {}

void enable_v2_controllers(const std::string& dir) {
  auto available = read_cgroup_file(dir, "cgroup.controllers");
  if (!available) return;
  auto enabled = read_cgroup_file(dir, "cgroup.subtree_control").value_or("");
  std::istringstream have(*available);
  std::istringstream on(enabled);
  std::vector<std::string> have_list, on_list;
  for (std::string c; have >> c;) have_list.push_back(c);
  for (std::string c; on >> c;) on_list.push_back(c);
  std::string request;
  for (const char* wanted : {"cpu", "cpuset", "memory", "pids", "hugetlb", "io"}) {
    bool available_here = false, already = false;
    for (const auto& c : have_list) available_here |= (c == wanted);
    for (const auto& c : on_list) already |= (c == wanted);
    if (available_here && !already) request += std::string(request.empty() ? "+" : " +") + wanted;
  }
  if (request.empty()) return;
  // A fake tree's subtree_control is a plain file: keep what was there.
  write_cgroup_file(dir, "cgroup.subtree_control", request);
}

void apply_v2_resources(const std::string& dir, const CgroupResources& r) {
  if (r.cpu_shares) write_cgroup_file(dir, "cpu.weight", std::to_string(cpu_shares_to_weight(*r.cpu_shares)));
  std::string cpu_max = cpu_max_value(r.cpu_quota, r.cpu_period);
  if (!cpu_max.empty()) write_cgroup_file(dir, "cpu.max", cpu_max);
  if (!r.cpuset_cpus.empty()) write_cgroup_file(dir, "cpuset.cpus", r.cpuset_cpus);
  if (!r.cpuset_mems.empty()) write_cgroup_file(dir, "cpuset.mems", r.cpuset_mems);
  auto swap = memory_swap_v2_value(r.memory_limit, r.memory_swap);
  // memory.swap.max is independent of memory.max on v2; write swap first so lowering memory
  // never meets a stale swap relation.
  if (swap && path_exists(dir + "/memory.swap.max")) write_cgroup_file(dir, "memory.swap.max", *swap);
  if (swap && !path_exists(dir + "/memory.swap.max") && *swap != "max" && *swap != "0") {
    throw Error(ErrorKind::kUnimplemented, "a swap limit needs memory.swap.max, which this kernel does not have");
  }
  if (r.memory_limit) write_cgroup_file(dir, "memory.max", limit_value(*r.memory_limit));
  if (r.pids_limit) write_cgroup_file(dir, "pids.max", limit_value(*r.pids_limit));
  for (const auto& h : r.hugepage_limits) {
    std::string file = "hugetlb." + h.page_size + ".max";
    if (path_exists(dir + "/" + file)) write_cgroup_file(dir, file, std::to_string(h.limit_bytes));
  }
  if (!r.devices.empty()) attach_device_program(dir, r.devices);
  for (const auto& [key, value] : r.unified) {
    if (!path_exists(dir + "/" + key)) {
      throw Error(ErrorKind::kInvalidArgument, "unified key \"" + key + "\": no such cgroup file (controller not enabled?)");
    }
    write_cgroup_file(dir, key, value);
  }
}

CgroupStats read_v2_stats(const std::string& dir) {
  CgroupStats s;
  if (auto stat = read_cgroup_file(dir, "cpu.stat")) {
    auto kv = parse_flat_keyed(*stat);
    s.cpu_usage_ns = kv["usage_usec"] * 1000;
    s.cpu_user_ns = kv["user_usec"] * 1000;
    s.cpu_system_ns = kv["system_usec"] * 1000;
    s.cpu_periods = kv["nr_periods"];
    s.cpu_throttled_periods = kv["nr_throttled"];
    s.cpu_throttled_ns = kv["throttled_usec"] * 1000;
  }
  s.memory_usage_bytes = read_cgroup_number(dir, "memory.current").value_or(0);
  uint64_t inactive_file = 0;
  if (auto stat = read_cgroup_file(dir, "memory.stat")) {
    auto kv = parse_flat_keyed(*stat);
    inactive_file = kv["inactive_file"];
    s.memory_rss_bytes = kv["anon"];
    s.memory_page_faults = kv["pgfault"];
    s.memory_major_page_faults = kv["pgmajfault"];
    s.memory_cache_bytes = kv["file"];
  }
  s.memory_swap_bytes = read_cgroup_number(dir, "memory.swap.current").value_or(0);
  s.memory_max_usage_bytes = read_cgroup_number(dir, "memory.peak").value_or(0);
  if (auto events = read_cgroup_file(dir, "memory.events")) s.memory_failcnt = parse_flat_keyed(*events)["max"];
  s.memory_working_set_bytes = s.memory_usage_bytes > inactive_file ? s.memory_usage_bytes - inactive_file : 0;
  s.memory_limit_bytes = read_cgroup_number(dir, "memory.max").value_or(0);
  if (s.memory_limit_bytes > 0) {
    s.memory_available_bytes =
        s.memory_limit_bytes > s.memory_working_set_bytes ? s.memory_limit_bytes - s.memory_working_set_bytes : 0;
  }
  s.pids_current = read_cgroup_number(dir, "pids.current").value_or(0);
  s.pids_limit = read_cgroup_number(dir, "pids.max").value_or(0);
  s.oom_kills = read_v2_oom_kills(dir);
  s.process_count = read_v2_pids(dir).size();
  return s;
}

uint64_t read_v2_oom_kills(const std::string& dir) {
  auto events = read_cgroup_file(dir, "memory.events");
  if (!events) return 0;
  return parse_flat_keyed(*events)["oom_kill"];
}

std::vector<pid_t> read_v2_pids(const std::string& dir) {
  std::vector<pid_t> out;
  auto content = read_cgroup_file(dir, "cgroup.procs");
  if (!content) return out;
  std::istringstream in(*content);
  long pid;
  while (in >> pid) out.push_back(static_cast<pid_t>(pid));
  return out;
}

}  // namespace crisp::cgroups
