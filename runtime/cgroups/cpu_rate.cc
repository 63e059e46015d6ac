#include "runtime/cgroups/cpu_rate.h"

namespace crisp::cgroups {

std::optional<uint64_t> CpuRateTracker::sample(const std::string& id, uint64_t usage_ns, int64_t timestamp_ns) {
  std::lock_guard lock(mu_);
  auto it = last_.find(id);
  std::optional<uint64_t> rate;
  if (it != last_.end()) {
    const Sample& prev = it->second;
    if (timestamp_ns > prev.timestamp_ns && usage_ns >= prev.usage_ns) {
      long double cores = static_cast<long double>(usage_ns - prev.usage_ns) * 1e9L /
                          static_cast<long double>(timestamp_ns - prev.timestamp_ns);
      rate = static_cast<uint64_t>(cores);
    } else if (timestamp_ns <= prev.timestamp_ns) {
      return std::nullopt;  // an older or concurrent sample: keep the newer one
    }
  }
  last_[id] = Sample{usage_ns, timestamp_ns};
  return rate;
}

void CpuRateTracker::forget(const std::string& id) {
  std::lock_guard lock(mu_);
  last_.erase(id);
}

}  // namespace crisp::cgroups
