#include "tests/bench/process_memory.h"

#include <dirent.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace crisp::bench {

Memory process_memory(pid_t pid) {
  Memory m;
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(in, line)) {  // "Rss:   1234 kB"; the first line names the range
    std::istringstream fields(line);
    std::string key;
    long value = 0;
    if (!(fields >> key >> value)) continue;
    if (key == "Rss:") m.rss_kb = value;
    else if (key == "Pss:") m.pss_kb = value;
    else if (key == "Private_Clean:" || key == "Private_Dirty:") m.private_kb += value;
  }
  return m;
}

std::vector<pid_t> pids_named(const std::vector<std::string>& names) {
  std::vector<pid_t> out;
  DIR* proc = ::opendir("/proc");
  if (!proc) return out;
  while (struct dirent* ent = ::readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atoi(ent->d_name));
    if (pid <= 0) continue;
    std::ifstream comm("/proc/" + std::string(ent->d_name) + "/comm");
    std::string name;
    std::getline(comm, name);
    for (const auto& n : names)
      if (name == n) out.push_back(pid);
  }
  ::closedir(proc);
  return out;
}

Memory total_memory(const std::vector<std::string>& names, size_t* count) {
  Memory total;
  auto pids = pids_named(names);
  for (pid_t pid : pids) {
    Memory m = process_memory(pid);
    total.rss_kb += m.rss_kb;
    total.pss_kb += m.pss_kb;
    total.private_kb += m.private_kb;
  }
  if (count) *count = pids.size();
  return total;
}

}  // namespace crisp::bench
