#pragma once
// CRI usage_nano_cores: CPU time used per wall-clock second between two stats calls, as
// containerd computes it. Thread-safe.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace crisp::cgroups {

class CpuRateTracker {
 public:
  // Records (usage_ns, timestamp_ns) for id and returns the rate since id's previous sample in
  // nano cores (1e9 = one full CPU); nullopt on the first sample or when time did not advance.
  std::optional<uint64_t> sample(const std::string& id, uint64_t usage_ns, int64_t timestamp_ns);
  // Drops id's sample (its container or pod is gone).
  void forget(const std::string& id);

 private:
  struct Sample {
    uint64_t usage_ns = 0;
    int64_t timestamp_ns = 0;
  };
  std::mutex mu_;  // guards last_
  std::map<std::string, Sample> last_;
};

}  // namespace crisp::cgroups
