// crisp-bench: measures a CRI runtime through its socket (crispd, containerd, ...).
//   crisp-bench --endpoint unix:///run/crisp/crisp.sock --image 127.0.0.1:5000/crisp-test/busybox:latest
// Prints a table and, with --json FILE, the same figures as JSON. It measures; it never asserts.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/bench/cri_client.h"
#include "tests/bench/process_memory.h"
#include "tests/bench/stats.h"

namespace crisp::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string endpoint;
  std::string image;
  std::string large_image;
  int iterations = 50;
  std::vector<int> parallel = {10, 50};
  std::vector<int> scales = {10, 100, 500};
  int memory_pods = 100;
  std::string daemon_process = "crispd";
  std::vector<std::string> overhead_processes = {"crisp-monitor"};
  std::set<std::string> suites = {"pod", "parallel", "exec", "list", "memory", "pull"};
  std::string json_path;
  std::string label = "crisp";
};

struct Report {
  std::vector<Summary> rows;
  std::vector<std::pair<std::string, double>> figures;
};

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

const std::vector<std::string> kSleep = {"sleep", "3600"};

struct Pod {
  std::string id;
  std::vector<std::string> containers;
};

// RunPodSandbox + (image present?) + CreateContainer + StartContainer, timing each step.
Pod start_pod(CriClient& cri, const Options& o, Samples* run, Samples* create, Samples* start, Samples* whole,
              int containers = 1) {
  Pod pod;
  auto config = cri.pod_config(unique_name("bench"));
  auto t0 = Clock::now();
  pod.id = cri.run_pod(config);
  auto t1 = Clock::now();
  cri.ensure_image(o.image);
  std::string first;
  for (int i = 0; i < containers; ++i) {
    auto c0 = Clock::now();
    std::string id = cri.create_container(pod.id, config, "c" + std::to_string(i), o.image, kSleep);
    auto c1 = Clock::now();
    cri.start_container(id);
    auto c2 = Clock::now();
    if (create) create->add(c1 - c0);
    if (start) start->add(c2 - c1);
    pod.containers.push_back(id);
  }
  auto t2 = Clock::now();
  if (run) run->add(t1 - t0);
  if (whole) whole->add(t2 - t0);
  return pod;
}

void teardown(CriClient& cri, const Pod& pod, Samples* samples) {
  auto t0 = Clock::now();
  cri.stop_pod(pod.id);
  cri.remove_pod(pod.id);
  if (samples) samples->add(Clock::now() - t0);
}

void suite_pod(CriClient& cri, const Options& o, Report& r) {
  Samples run, create, start, whole, down;
  teardown(cri, start_pod(cri, o, nullptr, nullptr, nullptr, nullptr), nullptr);  // warm-up (image, caches)
  auto w0 = Clock::now();
  for (int i = 0; i < o.iterations; ++i) {
    Pod p = start_pod(cri, o, &run, &create, &start, &whole);
    teardown(cri, p, &down);
  }
  auto wall = Clock::now() - w0;
  r.rows.push_back(run.summarize("RunPodSandbox", {}));
  r.rows.push_back(create.summarize("CreateContainer", {}));
  r.rows.push_back(start.summarize("StartContainer", {}));
  r.rows.push_back(whole.summarize("pod start (run+create+start), sequential", wall));
  r.rows.push_back(down.summarize("pod teardown (StopPodSandbox+RemovePodSandbox)", {}));
}

void suite_parallel(const Options& o, Report& r) {
  for (int clients : o.parallel) {
    int per_client = std::max(1, o.iterations / clients);
    Samples whole, down;
    std::mutex mu;  // guards whole, down, pods
    std::vector<Pod> pods;
    std::vector<std::thread> threads;
    auto w0 = Clock::now();
    for (int t = 0; t < clients; ++t)
      threads.emplace_back([&] {
        CriClient mine(o.endpoint);
        for (int i = 0; i < per_client; ++i) {
          Samples local;
          try {
            Pod p = start_pod(mine, o, nullptr, nullptr, nullptr, &local);
            std::lock_guard<std::mutex> lock(mu);
            whole.merge(local);
            pods.push_back(p);
          } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(mu);
            whole.add_error();
            std::fprintf(stderr, "parallel: %s\n", e.what());
          }
        }
      });
    for (auto& t : threads) t.join();
    auto wall = Clock::now() - w0;
    threads.clear();
    auto d0 = Clock::now();
    std::atomic<size_t> next{0};
    for (int t = 0; t < clients; ++t)
      threads.emplace_back([&] {
        CriClient mine(o.endpoint);
        for (size_t i; (i = next++) < pods.size();) {
          Samples local;
          try {
            teardown(mine, pods[i], &local);
          } catch (const std::exception&) {
            local.add_error();
          }
          std::lock_guard<std::mutex> lock(mu);
          down.merge(local);
        }
      });
    for (auto& t : threads) t.join();
    auto down_wall = Clock::now() - d0;
    r.rows.push_back(whole.summarize("pod start, " + std::to_string(clients) + " clients", wall));
    r.rows.push_back(down.summarize("pod teardown, " + std::to_string(clients) + " clients", down_wall));
  }
}

void suite_exec(CriClient& cri, const Options& o, Report& r) {
  Pod p = start_pod(cri, o, nullptr, nullptr, nullptr, nullptr);
  Samples exec;
  for (int i = 0; i < o.iterations * 2; ++i) {
    auto t0 = Clock::now();
    try {
      cri.exec_sync(p.containers[0], {"/bin/true"});
      exec.add(Clock::now() - t0);
    } catch (const std::exception& e) {
      exec.add_error();
      if (exec.summarize("", {}).errors == 1) std::fprintf(stderr, "exec: %s\n", e.what());
    }
  }
  teardown(cri, p, nullptr);
  r.rows.push_back(exec.summarize("ExecSync /bin/true", {}));
}

void suite_list(CriClient& cri, const Options& o, Report& r) {
  std::vector<Pod> pods;
  size_t running = 0;
  for (int scale : o.scales) {
    while (static_cast<int>(running) < scale) {
      int n = std::min(10, scale - static_cast<int>(running));
      pods.push_back(start_pod(cri, o, nullptr, nullptr, nullptr, nullptr, n));
      running += n;
    }
    std::string label = " (" + std::to_string(scale) + " containers)";
    Samples lc, lp, ls, cs;
    const int rounds = 200;
    for (int i = 0; i < rounds; ++i) {
      auto t0 = Clock::now();
      cri.list_containers();
      auto t1 = Clock::now();
      cri.list_pods();
      auto t2 = Clock::now();
      lc.add(t1 - t0);
      lp.add(t2 - t1);
      auto t3 = Clock::now();
      cri.container_status(pods[i % pods.size()].containers[0]);
      cs.add(Clock::now() - t3);
    }
    for (int i = 0; i < rounds / 4; ++i) {
      auto t0 = Clock::now();
      try {
        cri.list_container_stats();
        ls.add(Clock::now() - t0);
      } catch (const std::exception&) {
        ls.add_error();
      }
    }
    r.rows.push_back(lc.summarize("ListContainers" + label, {}));
    r.rows.push_back(lp.summarize("ListPodSandbox" + label, {}));
    r.rows.push_back(ls.summarize("ListContainerStats" + label, {}));
    r.rows.push_back(cs.summarize("ContainerStatus" + label, {}));
  }
  for (const auto& p : pods) teardown(cri, p, nullptr);
}

void suite_memory(CriClient& cri, const Options& o, Report& r) {
  auto daemons = pids_named({o.daemon_process});
  auto daemon_rss = [&] {
    long kb = 0;
    for (pid_t pid : daemons) kb += process_memory(pid).rss_kb;
    return kb;
  };
  r.figures.push_back({"daemon RSS idle (KB)", static_cast<double>(daemon_rss())});
  size_t before_count = 0;
  Memory before = total_memory(o.overhead_processes, &before_count);
  std::vector<Pod> pods;
  for (int i = 0; i < o.memory_pods; ++i) pods.push_back(start_pod(cri, o, nullptr, nullptr, nullptr, nullptr));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  r.figures.push_back({"daemon RSS with " + std::to_string(o.memory_pods) + " pods (KB)",
                       static_cast<double>(daemon_rss())});
  size_t count = 0;
  Memory after = total_memory(o.overhead_processes, &count);
  double pods_n = static_cast<double>(o.memory_pods);
  r.figures.push_back({"per-pod runtime processes", (count - before_count) / pods_n});
  r.figures.push_back({"per-pod runtime RSS (KB)", (after.rss_kb - before.rss_kb) / pods_n});
  r.figures.push_back({"per-pod runtime PSS (KB)", (after.pss_kb - before.pss_kb) / pods_n});
  r.figures.push_back({"per-pod runtime private (KB)", (after.private_kb - before.private_kb) / pods_n});
  for (const auto& p : pods) teardown(cri, p, nullptr);
}

void suite_pull(CriClient& cri, const Options& o, Report& r) {
  if (o.large_image.empty()) return;
  Samples cold, warm;
  for (int i = 0; i < 3; ++i) {
    try {
      cri.remove_image(o.large_image);
    } catch (const std::exception&) {
    }
    auto t0 = Clock::now();
    cri.pull(o.large_image);
    cold.add(Clock::now() - t0);
    auto t1 = Clock::now();
    cri.pull(o.large_image);
    warm.add(Clock::now() - t1);
  }
  Summary cold_summary = cold.summarize("PullImage large, cold", {});
  r.rows.push_back(cold_summary);
  r.rows.push_back(warm.summarize("PullImage large, warm", {}));
  double mb = static_cast<double>(cri.image_size(o.large_image)) / 1e6;
  r.figures.push_back({"large image size (MB)", mb});
  if (cold_summary.p50_ms > 0) r.figures.push_back({"PullImage large, cold (MB/s at p50)", mb / (cold_summary.p50_ms / 1e3)});
}

std::vector<int> parse_ints(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(std::stoi(item));
  return out;
}

}  // namespace
}  // namespace crisp::bench

int main(int argc, char** argv) {
  using namespace crisp::bench;
  Options o;
  std::string parallel = "10,50", scales = "10,100,500", suites, overhead = "crisp-monitor";
  CLI::App app{"crisp-bench: CRI runtime benchmark"};
  app.add_option("--endpoint", o.endpoint, "CRI endpoint, unix:///path")->required();
  app.add_option("--image", o.image, "Image for pods (pulled if absent)")->required();
  app.add_option("--large-image", o.large_image, "Image for the pull benchmark");
  app.add_option("--iterations", o.iterations, "Pods per sequential run");
  app.add_option("--parallel", parallel, "Client counts for parallel pod starts");
  app.add_option("--scales", scales, "Running-container counts for the list benchmarks");
  app.add_option("--memory-pods", o.memory_pods, "Pods running for the memory figures");
  app.add_option("--daemon-process", o.daemon_process, "comm of the daemon (crispd, containerd)");
  app.add_option("--overhead-processes", overhead, "comm names of per-pod runtime processes, comma separated");
  app.add_option("--suites", suites, "pod,parallel,exec,list,memory,pull");
  app.add_option("--json", o.json_path, "Write results as JSON");
  app.add_option("--label", o.label, "Name of the runtime in the JSON");
  CLI11_PARSE(app, argc, argv);
  o.parallel = parse_ints(parallel);
  o.scales = parse_ints(scales);
  o.overhead_processes.clear();
  {
    std::stringstream in(overhead);
    std::string item;
    while (std::getline(in, item, ','))
      if (!item.empty()) o.overhead_processes.push_back(item);
  }
  if (!suites.empty()) {
    o.suites.clear();
    std::stringstream in(suites);
    std::string item;
    while (std::getline(in, item, ',')) o.suites.insert(item);
  }

  CriClient cri(o.endpoint);
  Report report;
  try {
    cri.ensure_image(o.image);
    if (o.suites.count("memory")) suite_memory(cri, o, report);
    if (o.suites.count("pod")) suite_pod(cri, o, report);
    if (o.suites.count("parallel")) suite_parallel(o, report);
    if (o.suites.count("exec")) suite_exec(cri, o, report);
    if (o.suites.count("list")) suite_list(cri, o, report);
    if (o.suites.count("pull")) suite_pull(cri, o, report);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crisp-bench: %s\n", e.what());
    print_table(report.rows, report.figures);
    return 1;
  }
  print_table(report.rows, report.figures);
  if (!o.json_path.empty()) {
    nlohmann::json j = {{"runtime", o.label}, {"endpoint", o.endpoint}, {"operations", nlohmann::json::array()},
                        {"figures", nlohmann::json::object()}};
    for (const auto& row : report.rows) j["operations"].push_back(to_json(row));
    for (const auto& [k, v] : report.figures) j["figures"][k] = v;
    std::ofstream(o.json_path) << j.dump(2) << "\n";
  }
  return 0;
}
