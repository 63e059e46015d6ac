#pragma once
// Resident memory of processes, from /proc/<pid>/smaps_rollup (kB).
#include <sys/types.h>

#include <string>
#include <vector>

namespace crisp::bench {

struct Memory {
  long rss_kb = 0;
  long pss_kb = 0;
  long private_kb = 0;  // Private_Clean + Private_Dirty: what this process alone costs
};

Memory process_memory(pid_t pid);
// Pids whose /proc/<pid>/comm equals one of `names`.
std::vector<pid_t> pids_named(const std::vector<std::string>& names);
// Sum over processes named `names`; count receives how many there were.
Memory total_memory(const std::vector<std::string>& names, size_t* count);

}  // namespace crisp::bench
