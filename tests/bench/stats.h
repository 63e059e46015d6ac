#pragma once
// Latency samples -> p50/p90/p99 and throughput.
#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace crisp::bench {

struct Summary {
  std::string name;
  size_t count = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, mean_ms = 0, max_ms = 0;
  double per_second = 0;  // operations per wall-clock second (for parallel runs)
  size_t errors = 0;
};

class Samples {
 public:
  void add(std::chrono::nanoseconds d) { ns_.push_back(d.count()); }
  void add_error() { ++errors_; }
  void merge(const Samples& other);
  Summary summarize(const std::string& name, std::chrono::nanoseconds wall) const;

 private:
  std::vector<long long> ns_;
  size_t errors_ = 0;
};

nlohmann::json to_json(const Summary& s);
void print_table(const std::vector<Summary>& rows, const std::vector<std::pair<std::string, double>>& figures);

}  // namespace crisp::bench
