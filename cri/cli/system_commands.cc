// crisp info | gc | config dump.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

#include "cri/cli/cli.h"

namespace crisp::cli {

namespace {

namespace admin = ::crisp::admin::v1;

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < sizeof(units) / sizeof(units[0])) {
    value /= 1024;
    ++unit;
  }
  char out[32];
  std::snprintf(out, sizeof(out), unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return out;
}

}  // namespace

int info(AdminClient& client, bool as_json) {
  client.check_reachable();
  admin::InfoResponse r;
  auto ctx = call_context();
  grpc::Status status = client.stub().Info(ctx.get(), {}, &r);
  if (!status.ok()) fail(client, status);
  if (as_json) {
    nlohmann::json j = {
        {"version", r.version()},
        {"socket", r.socket()},
        {"root", r.root()},
        {"state", r.state()},
        {"cgroupDriver", r.cgroup_driver()},
        {"cgroupVersion", r.cgroup_version()},
        {"networkMode", r.network_mode()},
        {"network", r.network()},
        {"pods", r.pods()},
        {"podsReady", r.pods_ready()},
        {"containers", r.containers()},
        {"containersRunning", r.containers_running()},
        {"images", r.images()},
        {"imagesPinned", r.images_pinned()},
        {"imageStore", {{"usedBytes", r.image_store_bytes()}, {"inodesUsed", r.image_store_inodes()}}},
        {"containerStore", {{"usedBytes", r.container_store_bytes()}, {"inodesUsed", r.container_store_inodes()}}},
        {"configSources", std::vector<std::string>(r.config_sources().begin(), r.config_sources().end())},
    };
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::string sources;
  for (const auto& s : r.config_sources()) sources += (sources.empty() ? "" : ", ") + s;
  std::cout << "crispd version:   " << r.version() << "\n"
            << "socket:           " << r.socket() << "\n"
            << "root:             " << r.root() << "\n"
            << "state:            " << r.state() << "\n"
            << "cgroup driver:    " << r.cgroup_driver() << " (cgroup " << r.cgroup_version() << ")\n"
            << "network:          " << r.network_mode() << " (in use: " << (r.network().empty() ? "not ready" : r.network())
            << ")\n"
            << "pods:             " << r.pods() << " (" << r.pods_ready() << " ready)\n"
            << "containers:       " << r.containers() << " (" << r.containers_running() << " running)\n"
            << "images:           " << r.images() << " (" << r.images_pinned() << " pinned)\n"
            << "image store:      " << human_bytes(r.image_store_bytes()) << ", " << r.image_store_inodes()
            << " inodes\n"
            << "container store:  " << human_bytes(r.container_store_bytes()) << ", " << r.container_store_inodes()
            << " inodes\n"
            << "config files:     " << (sources.empty() ? "(none, built-in defaults)" : sources) << "\n";
  return kExitOk;
}

int gc(AdminClient& client) {
  client.check_reachable();
  admin::GarbageCollectResponse r;
  auto ctx = call_context(0);
  grpc::Status status = client.stub().GarbageCollect(ctx.get(), {}, &r);
  if (!status.ok()) fail(client, status);
  std::cout << "removed " << r.blobs_removed() << " blobs and " << r.snapshots_removed() << " layer snapshots ("
            << human_bytes(r.bytes_removed()) << ")\n";
  return kExitOk;
}

int config_dump(AdminClient& client) {
  client.check_reachable();
  admin::ConfigDumpResponse r;
  auto ctx = call_context();
  grpc::Status status = client.stub().ConfigDump(ctx.get(), {}, &r);
  if (!status.ok()) fail(client, status);
  std::cout << r.toml();
  return kExitOk;
}

}  // namespace crisp::cli
