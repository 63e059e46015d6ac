#include "cri/metrics/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace crisp::metrics {

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Whole numbers up to 2^53 as integers; the rest in the shortest exact form (1e+20, 0.005).
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(value));
    return std::string(buf, end);
  }
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, end);
}

Family::Family(std::string name, std::string help, std::string type, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), type_(std::move(type)), label_names_(std::move(label_names)) {}

void Family::check_labels(LabelValues values) const {
  if (values.size() != label_names_.size())
    throw std::invalid_argument("metric " + name_ + ": " + std::to_string(values.size()) + " label values for " +
                                std::to_string(label_names_.size()) + " labels");
}

void Family::append_series_name(std::string& out, std::string_view suffix, const std::vector<std::string>& values,
                                std::string_view extra_label, std::string_view extra_value) const {
  out += name_;
  out += suffix;
  if (label_names_.empty() && extra_label.empty()) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < label_names_.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += label_names_[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!extra_label.empty()) {
    if (!first) out += ',';
    out += extra_label;
    out += "=\"";
    out += escape_label_value(extra_value);
    out += '"';
  }
  out += '}';
}

void Family::render(std::string& out) const {
  out += "# HELP " + name_ + " " + escape_help(help_) + "\n";
  out += "# TYPE " + name_ + " " + type_ + "\n";
  std::lock_guard lock(mu_);
  render_samples(out);
}

// Counter

Counter::Counter(std::string name, std::string help, std::vector<std::string> label_names)
    : Family(std::move(name), std::move(help), "counter", std::move(label_names)) {
  if (label_names_.empty()) series_.emplace(std::vector<std::string>{}, 0.0);
}

void Counter::inc(LabelValues labels, double amount) {
  check_labels(labels);
  std::lock_guard lock(mu_);
  auto it = series_.find(labels);
  if (it == series_.end()) it = series_.emplace(std::vector<std::string>(labels.begin(), labels.end()), 0.0).first;
  it->second += amount;
}

double Counter::value(LabelValues labels) const {
  std::lock_guard lock(mu_);
  auto it = series_.find(labels);
  return it == series_.end() ? 0 : it->second;
}

void Counter::render_samples(std::string& out) const {
  for (const auto& [values, value] : series_) {
    append_series_name(out, "", values);
    out += ' ' + format_value(value) + '\n';
  }
}

// Gauge

Gauge::Gauge(std::string name, std::string help, std::vector<std::string> label_names)
    : Family(std::move(name), std::move(help), "gauge", std::move(label_names)) {
  if (label_names_.empty()) series_.emplace(std::vector<std::string>{}, 0.0);
}

void Gauge::set(LabelValues labels, double value) {
  check_labels(labels);
  std::lock_guard lock(mu_);
  auto it = series_.find(labels);
  if (it == series_.end()) it = series_.emplace(std::vector<std::string>(labels.begin(), labels.end()), 0.0).first;
  it->second = value;
}

double Gauge::value(LabelValues labels) const {
  std::lock_guard lock(mu_);
  auto it = series_.find(labels);
  return it == series_.end() ? 0 : it->second;
}

void Gauge::clear() {
  std::lock_guard lock(mu_);
  series_.clear();
  if (label_names_.empty()) series_.emplace(std::vector<std::string>{}, 0.0);
}

void Gauge::render_samples(std::string& out) const {
  for (const auto& [values, value] : series_) {
    append_series_name(out, "", values);
    out += ' ' + format_value(value) + '\n';
  }
}

// Histogram

Histogram::Histogram(std::string name, std::string help, std::vector<std::string> label_names,
                     std::vector<double> bounds)
    : Family(std::move(name), std::move(help), "histogram", std::move(label_names)), bounds_(std::move(bounds)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end())
    throw std::invalid_argument("histogram " + name_ + ": bucket bounds must ascend");
  for (const auto& l : label_names_)
    if (l == "le") throw std::invalid_argument("histogram " + name_ + ": \"le\" is reserved");
  if (label_names_.empty()) series_.emplace(std::vector<std::string>{}, Series{std::vector<uint64_t>(bounds_.size())});
}

void Histogram::observe(LabelValues labels, double value) {
  check_labels(labels);
  // The first bucket whose upper bound (inclusive) holds the value; past the last: only +Inf.
  size_t bucket = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  std::lock_guard lock(mu_);
  auto it = series_.find(labels);
  if (it == series_.end())
    it = series_
             .emplace(std::vector<std::string>(labels.begin(), labels.end()),
                      Series{std::vector<uint64_t>(bounds_.size())})
             .first;
  if (bucket < bounds_.size()) ++it->second.buckets[bucket];
  ++it->second.count;
  it->second.sum += value;
}

void Histogram::render_samples(std::string& out) const {
  for (const auto& [values, series] : series_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
      cumulative += series.buckets[i];
      append_series_name(out, "_bucket", values, "le", format_value(bounds_[i]));
      out += ' ' + std::to_string(cumulative) + '\n';
    }
    append_series_name(out, "_bucket", values, "le", "+Inf");
    out += ' ' + std::to_string(series.count) + '\n';
    append_series_name(out, "_sum", values);
    out += ' ' + format_value(series.sum) + '\n';
    append_series_name(out, "_count", values);
    out += ' ' + std::to_string(series.count) + '\n';
  }
}

// Registry

Registry::Registry() = default;
Registry::~Registry() = default;

void Registry::add(std::unique_ptr<Family> family) {
  std::lock_guard lock(mu_);
  for (const auto& f : families_)
    if (f->name() == family->name()) throw std::invalid_argument("metric " + family->name() + " registered twice");
  families_.push_back(std::move(family));
}

Counter& Registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  auto family = std::make_unique<Counter>(std::move(name), std::move(help), std::move(label_names));
  Counter& ref = *family;
  add(std::move(family));
  return ref;
}

Gauge& Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  auto family = std::make_unique<Gauge>(std::move(name), std::move(help), std::move(label_names));
  Gauge& ref = *family;
  add(std::move(family));
  return ref;
}

Histogram& Registry::histogram(std::string name, std::string help, std::vector<std::string> label_names,
                               std::vector<double> bounds) {
  auto family =
      std::make_unique<Histogram>(std::move(name), std::move(help), std::move(label_names), std::move(bounds));
  Histogram& ref = *family;
  add(std::move(family));
  return ref;
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& f : families_) f->render(out);
  return out;
}

}  // namespace crisp::metrics
