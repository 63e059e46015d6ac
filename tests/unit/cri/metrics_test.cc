// The metrics registry and its text exposition format (0.0.4).
#include "cri/metrics/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace crisp::metrics {
namespace {

TEST(MetricsTest, CounterWithLabelsRendersHelpTypeAndSeries) {
  Registry r;
  Counter& c = r.counter("crisp_rpc_requests_total", "CRI requests.", {"rpc", "code"});
  c.inc({"Version", "OK"});
  c.inc({"Version", "OK"});
  c.inc({"ContainerStatus", "NOT_FOUND"}, 3);
  EXPECT_EQ(c.value({"Version", "OK"}), 2);
  EXPECT_EQ(c.value({"Version", "INTERNAL"}), 0);
  EXPECT_EQ(r.render(),
            "# HELP crisp_rpc_requests_total CRI requests.\n"
            "# TYPE crisp_rpc_requests_total counter\n"
            "crisp_rpc_requests_total{rpc=\"ContainerStatus\",code=\"NOT_FOUND\"} 3\n"
            "crisp_rpc_requests_total{rpc=\"Version\",code=\"OK\"} 2\n");
}

TEST(MetricsTest, LabelsKeepTheFamilyOrderNotAlphabetical) {
  Registry r;
  r.gauge("g", "help", {"zeta", "alpha"}).set({"1", "2"}, 5);
  EXPECT_NE(r.render().find("g{zeta=\"1\",alpha=\"2\"} 5\n"), std::string::npos) << r.render();
}

TEST(MetricsTest, FamilyWithoutLabelsStartsAtZero) {
  Registry r;
  r.counter("crisp_image_pull_bytes_total", "Bytes.");
  r.gauge("process_open_fds", "Fds.");
  EXPECT_EQ(r.render(),
            "# HELP crisp_image_pull_bytes_total Bytes.\n# TYPE crisp_image_pull_bytes_total counter\n"
            "crisp_image_pull_bytes_total 0\n"
            "# HELP process_open_fds Fds.\n# TYPE process_open_fds gauge\nprocess_open_fds 0\n");
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Registry r;
  r.counter("c", "a \\ back\nslash \"quoted\"", {"path"}).inc({"C:\\dir \"x\"\nnext"});
  EXPECT_EQ(r.render(),
            "# HELP c a \\\\ back\\nslash \"quoted\"\n"
            "# TYPE c counter\n"
            "c{path=\"C:\\\\dir \\\"x\\\"\\nnext\"} 1\n");
  EXPECT_EQ(escape_label_value("plain"), "plain");
}

TEST(MetricsTest, ValuesFormat) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(-3), "-3");
  EXPECT_EQ(format_value(0.005), "0.005");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(1e20), "1e+20");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry r;
  Histogram& h = r.histogram("d_seconds", "Durations.", {"rpc"}, {0.01, 0.1, 1});
  h.observe({"Version"}, 0.005);
  h.observe({"Version"}, 0.01);  // upper bounds are inclusive
  h.observe({"Version"}, 0.5);
  h.observe({"Version"}, 7);  // only +Inf
  EXPECT_EQ(r.render(),
            "# HELP d_seconds Durations.\n"
            "# TYPE d_seconds histogram\n"
            "d_seconds_bucket{rpc=\"Version\",le=\"0.01\"} 2\n"
            "d_seconds_bucket{rpc=\"Version\",le=\"0.1\"} 2\n"
            "d_seconds_bucket{rpc=\"Version\",le=\"1\"} 3\n"
            "d_seconds_bucket{rpc=\"Version\",le=\"+Inf\"} 4\n"
            "d_seconds_sum{rpc=\"Version\"} " + format_value(0.005 + 0.01 + 0.5 + 7) + "\n"
            "d_seconds_count{rpc=\"Version\"} 4\n");
}

TEST(MetricsTest, HistogramWithoutLabels) {
  Registry r;
  r.histogram("pull_seconds", "Pulls.", {}, {1}).observe({}, 0.5);
  std::string text = r.render();
  EXPECT_NE(text.find("pull_seconds_bucket{le=\"1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pull_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pull_seconds_sum 0.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pull_seconds_count 1\n"), std::string::npos) << text;
}

TEST(MetricsTest, GaugeSetAndClear) {
  Registry r;
  Gauge& g = r.gauge("crisp_containers", "Containers.", {"state"});
  g.set({"running"}, 3);
  g.set({"running"}, 2);
  EXPECT_EQ(g.value({"running"}), 2);
  g.clear();
  EXPECT_EQ(r.render(), "# HELP crisp_containers Containers.\n# TYPE crisp_containers gauge\n");
}

TEST(MetricsTest, MisuseIsRefused) {
  Registry r;
  Counter& c = r.counter("c", "h", {"a"});
  EXPECT_THROW(c.inc({"x", "y"}), std::invalid_argument);
  EXPECT_THROW(r.counter("c", "again"), std::invalid_argument);
  EXPECT_THROW(r.histogram("h", "h", {"le"}, {1}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h2", "h", {}, {2, 1}), std::invalid_argument);
}

// Every sample line is `name{labels} value` or `name value`, as a Prometheus parser expects.
TEST(MetricsTest, EverySampleLineParses) {
  Registry r;
  r.counter("a_total", "A.", {"x"}).inc({"with space"});
  r.histogram("b_seconds", "B.", {"y"}, {0.5}).observe({"q\"uote"}, 0.25);
  r.gauge("c", "C.").set({}, 1.5);
  std::string text = r.render();
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.rfind("# ", 0) == 0) continue;
    size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    std::string value = line.substr(space + 1);
    EXPECT_NO_THROW((void)std::stod(value)) << line;
    std::string series = line.substr(0, space);
    if (size_t brace = series.find('{'); brace != std::string::npos) {
      EXPECT_EQ(series.back(), '}') << line;
    }
  }
}

}  // namespace
}  // namespace crisp::metrics
