#include "tests/bench/stats.h"

#include <algorithm>
#include <cstdio>

namespace crisp::bench {

void Samples::merge(const Samples& other) {
  ns_.insert(ns_.end(), other.ns_.begin(), other.ns_.end());
  errors_ += other.errors_;
}

Summary Samples::summarize(const std::string& name, std::chrono::nanoseconds wall) const {
  Summary s;
  s.name = name;
  s.count = ns_.size();
  s.errors = errors_;
  if (ns_.empty()) return s;
  std::vector<long long> v = ns_;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))] / 1e6; };
  s.p50_ms = at(0.50);
  s.p90_ms = at(0.90);
  s.p99_ms = at(0.99);
  s.max_ms = v.back() / 1e6;
  long long sum = 0;
  for (long long x : v) sum += x;
  s.mean_ms = sum / 1e6 / v.size();
  if (wall.count() > 0) s.per_second = v.size() / (wall.count() / 1e9);
  return s;
}

nlohmann::json to_json(const Summary& s) {
  return {{"name", s.name},     {"count", s.count},   {"p50_ms", s.p50_ms}, {"p90_ms", s.p90_ms},
          {"p99_ms", s.p99_ms}, {"mean_ms", s.mean_ms}, {"max_ms", s.max_ms}, {"per_second", s.per_second},
          {"errors", s.errors}};
}

void print_table(const std::vector<Summary>& rows, const std::vector<std::pair<std::string, double>>& figures) {
  std::printf("%-48s %6s %10s %10s %10s %10s %6s\n", "operation", "n", "p50 ms", "p90 ms", "p99 ms", "ops/s", "errors");
  for (const auto& r : rows)
    std::printf("%-48s %6zu %10.3f %10.3f %10.3f %10.1f %6zu\n", r.name.c_str(), r.count, r.p50_ms, r.p90_ms,
                r.p99_ms, r.per_second, r.errors);
  for (const auto& [name, value] : figures) std::printf("%-48s %.1f\n", name.c_str(), value);
}

}  // namespace crisp::bench
