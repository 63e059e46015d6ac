#pragma once
// A small Prometheus metrics registry: counter, gauge and histogram families with labels, rendered
// in the text exposition format 0.0.4 (what GET /metrics serves, cri/metrics/metrics_server.h).
//
//   Registry registry;
//   Counter& requests = registry.counter("crisp_rpc_requests_total", "CRI requests.", {"rpc", "code"});
//   requests.inc({"Version", "OK"});
//   Histogram& took = registry.histogram("crisp_rpc_duration_seconds", "...", {"rpc"}, {0.001, 0.01, 0.1});
//   took.observe({"Version"}, 0.0004);
//   std::string text = registry.render();
//
// Label values are given in the order of the family's label names. Updating an existing series
// takes the family's mutex and one map lookup, without allocating. Families live as long as the
// registry; the references it returns stay valid. Thread-safe.
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace crisp::metrics {

using LabelValues = std::initializer_list<std::string_view>;

// The Content-Type of the text format.
inline constexpr const char* kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

// Text-format escaping: label values escape \, " and newline; HELP text escapes \ and newline.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);
// A sample value: integers without a fraction, others in the shortest form that reads back
// exactly; +Inf, -Inf, NaN.
std::string format_value(double value);

// Orders label-value lists; accepts both stored keys and LabelValues (lookups do not allocate).
struct LabelValuesLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    auto ai = a.begin();
    auto bi = b.begin();
    for (; ai != a.end() && bi != b.end(); ++ai, ++bi) {
      int c = std::string_view(*ai).compare(std::string_view(*bi));
      if (c != 0) return c < 0;
    }
    return ai == a.end() && bi != b.end();
  }
};

class Family {
 public:
  virtual ~Family() = default;
  const std::string& name() const { return name_; }
  // Appends # HELP, # TYPE and the samples.
  void render(std::string& out) const;

 protected:
  Family(std::string name, std::string help, std::string type, std::vector<std::string> label_names);
  // Throws std::invalid_argument when the count differs from the label names'.
  void check_labels(LabelValues values) const;
  // `name{a="x",b="y"` + extra + `}` (no braces when there is no label at all).
  void append_series_name(std::string& out, std::string_view suffix, const std::vector<std::string>& values,
                          std::string_view extra_label = {}, std::string_view extra_value = {}) const;
  virtual void render_samples(std::string& out) const = 0;

  std::string name_;
  std::string help_;
  std::string type_;
  std::vector<std::string> label_names_;
  mutable std::mutex mu_;  // guards the series of the derived family
};

class Counter final : public Family {
 public:
  Counter(std::string name, std::string help, std::vector<std::string> label_names);
  void inc(LabelValues labels, double amount = 1);
  double value(LabelValues labels) const;  // 0 for a series never incremented

 private:
  void render_samples(std::string& out) const override;
  std::map<std::vector<std::string>, double, LabelValuesLess> series_;
};

class Gauge final : public Family {
 public:
  Gauge(std::string name, std::string help, std::vector<std::string> label_names);
  void set(LabelValues labels, double value);
  double value(LabelValues labels) const;
  void clear();  // drops every series (collect-on-scrape gauges whose label sets change)

 private:
  void render_samples(std::string& out) const override;
  std::map<std::vector<std::string>, double, LabelValuesLess> series_;
};

class Histogram final : public Family {
 public:
  // bounds: the buckets' upper bounds, ascending (+Inf is implied).
  Histogram(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> bounds);
  void observe(LabelValues labels, double value);

 private:
  struct Series {
    std::vector<uint64_t> buckets;  // per bound, not cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  void render_samples(std::string& out) const override;
  std::vector<double> bounds_;
  std::map<std::vector<std::string>, Series, LabelValuesLess> series_;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registers a family (a family without labels starts with its one series at 0). Registering a
  // name twice throws std::invalid_argument.
  Counter& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  Gauge& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  Histogram& histogram(std::string name, std::string help, std::vector<std::string> label_names,
                       std::vector<double> bounds);

  // Every family in registration order, in the text format.
  std::string render() const;

 private:
  void add(std::unique_ptr<Family> family);
  mutable std::mutex mu_;  // guards families_ (the list; each family guards its series)
  std::vector<std::unique_ptr<Family>> families_;
};

}  // namespace crisp::metrics
