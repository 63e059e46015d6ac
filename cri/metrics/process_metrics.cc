// process_* gauges from /proc/self, read at scrape time (the names Prometheus client libraries use).
#include <dirent.h>
#include <unistd.h>

#include <sstream>

#include "cri/metrics/crispd_metrics.h"
#include "runtime/base/file_util.h"

namespace crisp::metrics {

namespace {

// Resident pages (field 2 of /proc/self/statm) in bytes.
double resident_memory_bytes() {
  auto statm = read_file_if_exists("/proc/self/statm");
  if (!statm) return 0;
  std::istringstream in(*statm);
  unsigned long long size = 0, resident = 0;
  in >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return 0;
  int n = 0;
  while (struct dirent* ent = ::readdir(dir))
    if (ent->d_name[0] != '.') ++n;
  ::closedir(dir);
  return n - 1;  // the directory being read
}

// Boot time (btime of /proc/stat) + starttime (field 22 of /proc/self/stat, in clock ticks).
double start_time_seconds() {
  auto stat = read_file_if_exists("/proc/self/stat");
  auto proc_stat = read_file_if_exists("/proc/stat");
  if (!stat || !proc_stat) return 0;
  size_t paren = stat->rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat->substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  double ticks = std::stod(field);
  std::istringstream lines(*proc_stat);
  std::string line;
  double boot = 0;
  while (std::getline(lines, line))
    if (line.rfind("btime ", 0) == 0) boot = std::stod(line.substr(6));
  return boot + ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

void collect_process_metrics() {
  CrispdMetrics& m = crispd_metrics();
  m.resident_memory.set({}, resident_memory_bytes());
  m.open_fds.set({}, open_fds());
  static const double start = start_time_seconds();  // does not change
  m.start_time.set({}, start);
}

}  // namespace crisp::metrics
