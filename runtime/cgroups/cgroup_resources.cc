#include "runtime/cgroups/cgroup_resources.h"

#include <cctype>
#include <limits>

#include "runtime/base/error.h"

namespace crisp::cgroups {

namespace {

constexpr uint64_t kMinShares = 2;
constexpr uint64_t kMaxShares = 262144;
constexpr uint64_t kMinPeriodUs = 1000;
constexpr uint64_t kMaxPeriodUs = 1000000;
constexpr int64_t kMinQuotaUs = 1000;
// Anything above 2^62 bytes is not a real limit (the kernel's "unlimited" is 2^63 - 4096).
constexpr int64_t kMaxBytes = int64_t{1} << 62;

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorKind::kInvalidArgument, "invalid cgroup resources: " + message);
}

// "0-3,5,7-8"
bool valid_cpu_list(const std::string& list) {
  if (list.empty()) return true;
  size_t i = 0;
  while (i < list.size()) {
    auto number = [&]() -> bool {
      size_t start = i;
      while (i < list.size() && std::isdigit(static_cast<unsigned char>(list[i]))) ++i;
      return i > start && i - start <= 6;
    };
    if (!number()) return false;
    if (i < list.size() && list[i] == '-') {
      ++i;
      if (!number()) return false;
    }
    if (i == list.size()) return true;
    if (list[i] != ',') return false;
    ++i;
    if (i == list.size()) return false;
  }
  return true;
}

bool valid_unified_key(const std::string& key) {
  auto dot = key.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == key.size()) return false;
  if (key.find('/') != std::string::npos || key.find("..") != std::string::npos) return false;
  // Membership and delegation files are crisp's business, never the user's.
  if (key.rfind("cgroup.", 0) == 0) return false;
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

bool has_newline(const std::string& s) { return s.find_first_of("\n\r") != std::string::npos; }

}  // namespace

bool CgroupResources::empty() const {
  return !cpu_shares && !cpu_quota && !cpu_period && cpuset_cpus.empty() && cpuset_mems.empty() &&
         !memory_limit && !memory_swap && !pids_limit && hugepage_limits.empty() &&
         unified.empty() && devices.empty();
}

void validate_resources(const CgroupResources& r) {
  if (r.cpu_shares && (*r.cpu_shares < kMinShares || *r.cpu_shares > kMaxShares)) {
    invalid("cpu shares " + std::to_string(*r.cpu_shares) + " outside [2, 262144]");
  }
  if (r.cpu_period && (*r.cpu_period < kMinPeriodUs || *r.cpu_period > kMaxPeriodUs)) {
    invalid("cpu period " + std::to_string(*r.cpu_period) + "us outside [1000, 1000000]");
  }
  if (r.cpu_quota && *r.cpu_quota != -1 && *r.cpu_quota < kMinQuotaUs) {
    invalid("cpu quota " + std::to_string(*r.cpu_quota) + "us: must be -1 or at least 1000");
  }
  if (r.cpu_quota && *r.cpu_quota > int64_t{1} << 50) {
    invalid("cpu quota " + std::to_string(*r.cpu_quota) + "us is absurd");
  }
  if (!valid_cpu_list(r.cpuset_cpus)) invalid("cpuset cpus \"" + r.cpuset_cpus + "\" does not parse");
  if (!valid_cpu_list(r.cpuset_mems)) invalid("cpuset mems \"" + r.cpuset_mems + "\" does not parse");
  if (r.memory_limit) {
    if (*r.memory_limit != -1 && *r.memory_limit <= 0) {
      invalid("memory limit " + std::to_string(*r.memory_limit) + ": must be -1 or positive");
    }
    if (*r.memory_limit > kMaxBytes) invalid("memory limit " + std::to_string(*r.memory_limit) + " is absurd");
  }
  if (r.memory_swap) {
    if (*r.memory_swap < -1) invalid("memory swap " + std::to_string(*r.memory_swap) + ": must be >= -1");
    if (*r.memory_swap > kMaxBytes) invalid("memory swap " + std::to_string(*r.memory_swap) + " is absurd");
    if (*r.memory_swap > 0) {
      if (!r.memory_limit || *r.memory_limit == -1) {
        invalid("a memory+swap limit needs a memory limit");
      }
      if (*r.memory_swap < *r.memory_limit) {
        invalid("memory+swap limit " + std::to_string(*r.memory_swap) +
                " is below the memory limit " + std::to_string(*r.memory_limit));
      }
    }
  }
  if (r.pids_limit && *r.pids_limit < -1) invalid("pids limit " + std::to_string(*r.pids_limit) + ": must be >= -1");
  if (r.pids_limit && *r.pids_limit > (int64_t{1} << 32)) {
    invalid("pids limit " + std::to_string(*r.pids_limit) + " is absurd");
  }
  for (const auto& h : r.hugepage_limits) {
    hugepage_size_bytes(h.page_size);
    if (h.limit_bytes > static_cast<uint64_t>(kMaxBytes)) invalid("hugepage limit for " + h.page_size + " is absurd");
  }
  for (const auto& [key, value] : r.unified) {
    if (!valid_unified_key(key)) invalid("unified key \"" + key + "\" is not <controller>.<file>");
    if (value.empty() || has_newline(value)) invalid("unified value for \"" + key + "\" is empty or multi-line");
  }
  for (const auto& d : r.devices) {
    if (d.type != 'a' && d.type != 'c' && d.type != 'b') invalid(std::string("device type '") + d.type + "'");
    if (d.major < -1 || d.minor < -1) invalid("device major/minor below -1");
    if (d.access.empty() || d.access.find_first_not_of("rwm") != std::string::npos) {
      invalid("device access \"" + d.access + "\" is not a subset of rwm");
    }
  }
}

uint64_t cpu_shares_to_weight(uint64_t shares) {
  if (shares == 0) return 0;
  if (shares < kMinShares) shares = kMinShares;
  if (shares > kMaxShares) shares = kMaxShares;
  return 1 + ((shares - 2) * 9999) / 262142;
}

std::string cpu_max_value(std::optional<int64_t> quota, std::optional<uint64_t> period) {
  bool has_quota = quota && *quota != 0;
  bool has_period = period && *period != 0;
  if (!has_quota && !has_period) return {};
  std::string value = "max";
  if (has_quota && *quota > 0) value = std::to_string(*quota);
  if (has_period) value += " " + std::to_string(*period);
  return value;
}

std::optional<std::string> memory_swap_v2_value(std::optional<int64_t> memory_limit,
                                                std::optional<int64_t> memory_swap) {
  int64_t memory = memory_limit.value_or(0);
  int64_t swap = memory_swap.value_or(0);
  // Unlimited memory with no swap setting: unlimited swap (runc).
  if (memory == -1 && swap == 0) return std::string("max");
  if (swap == -1) return std::string("max");
  if (swap == 0) return std::nullopt;
  if (memory == 0 || memory == -1) {
    throw Error(ErrorKind::kInvalidArgument, "unable to set a swap limit without a memory limit");
  }
  if (swap < memory) {
    throw Error(ErrorKind::kInvalidArgument, "memory+swap limit must be >= the memory limit");
  }
  return std::to_string(swap - memory);
}

std::string limit_value(int64_t value) { return value < 0 ? std::string("max") : std::to_string(value); }

uint64_t hugepage_size_bytes(const std::string& page_size) {
  size_t i = 0;
  while (i < page_size.size() && std::isdigit(static_cast<unsigned char>(page_size[i]))) ++i;
  if (i == 0 || i > 6 || page_size.size() - i != 2 || page_size[i + 1] != 'B') {
    invalid("hugepage size \"" + page_size + "\" is not like 2MB or 1GB");
  }
  uint64_t n = std::stoull(page_size.substr(0, i));
  switch (page_size[i]) {
    case 'K': return n << 10;
    case 'M': return n << 20;
    case 'G': return n << 30;
    default: invalid("hugepage size \"" + page_size + "\" is not like 2MB or 1GB");
  }
}

}  // namespace crisp::cgroups
