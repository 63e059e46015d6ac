#include "runtime/state_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::runtime {

using nlohmann::json;

namespace {

constexpr int kRecordVersion = 1;

const char* mode_name(NamespaceMode mode) {
  switch (mode) {
    case NamespaceMode::kPod: return "pod";
    case NamespaceMode::kContainer: return "container";
    case NamespaceMode::kNode: return "node";
    case NamespaceMode::kTarget: return "target";
  }
  return "pod";
}

NamespaceMode mode_from(const std::string& name) {
  if (name == "container") return NamespaceMode::kContainer;
  if (name == "node") return NamespaceMode::kNode;
  if (name == "target") return NamespaceMode::kTarget;
  return NamespaceMode::kPod;
}

const char* container_state_name(ContainerState state) {
  switch (state) {
    case ContainerState::kCreated: return "created";
    case ContainerState::kRunning: return "running";
    case ContainerState::kExited: return "exited";
    case ContainerState::kUnknown: return "unknown";
  }
  return "unknown";
}

ContainerState container_state_from(const std::string& name) {
  if (name == "created") return ContainerState::kCreated;
  if (name == "running") return ContainerState::kRunning;
  if (name == "exited") return ContainerState::kExited;
  return ContainerState::kUnknown;
}

const char* propagation_name(MountPropagation p) {
  switch (p) {
    case MountPropagation::kPrivate: return "private";
    case MountPropagation::kHostToContainer: return "host_to_container";
    case MountPropagation::kBidirectional: return "bidirectional";
  }
  return "private";
}

MountPropagation propagation_from(const std::string& name) {
  if (name == "host_to_container") return MountPropagation::kHostToContainer;
  if (name == "bidirectional") return MountPropagation::kBidirectional;
  return MountPropagation::kPrivate;
}

template <typename T>
T get_or(const json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return it->get<T>();
}

json process_to_json(const monitor::ProcessSpec& p) {
  return json{{"args", p.args},
              {"env", p.env},
              {"cwd", p.cwd},
              {"uid", p.uid},
              {"gid", p.gid},
              {"additional_gids", p.additional_gids},
              {"terminal", p.terminal},
              {"no_new_privs", p.no_new_privs},
              {"cap_bounding", p.cap_bounding},
              {"cap_effective", p.cap_effective},
              {"cap_permitted", p.cap_permitted},
              {"cap_inheritable", p.cap_inheritable},
              {"cap_ambient", p.cap_ambient},
              {"seccomp_bpf_path", p.seccomp_bpf_path}};
}

monitor::ProcessSpec process_from_json(const json& j) {
  monitor::ProcessSpec p;
  p.args = get_or(j, "args", std::vector<std::string>{});
  p.env = get_or(j, "env", std::vector<std::string>{});
  p.cwd = get_or(j, "cwd", std::string("/"));
  p.uid = get_or(j, "uid", 0u);
  p.gid = get_or(j, "gid", 0u);
  p.additional_gids = get_or(j, "additional_gids", std::vector<uint32_t>{});
  p.terminal = get_or(j, "terminal", false);
  p.no_new_privs = get_or(j, "no_new_privs", true);
  p.cap_bounding = get_or(j, "cap_bounding", uint64_t{0});
  p.cap_effective = get_or(j, "cap_effective", uint64_t{0});
  p.cap_permitted = get_or(j, "cap_permitted", uint64_t{0});
  p.cap_inheritable = get_or(j, "cap_inheritable", uint64_t{0});
  p.cap_ambient = get_or(j, "cap_ambient", uint64_t{0});
  p.seccomp_bpf_path = get_or(j, "seccomp_bpf_path", std::string());
  return p;
}

json optional_int(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

// The CRI resources of a container (issue 5), reported by ContainerStatus after a restart.
json resources_to_json(const cgroups::CgroupResources& r, const std::optional<int>& oom_score_adj) {
  json j = json::object();
  if (r.cpu_shares) j["cpu_shares"] = *r.cpu_shares;
  if (r.cpu_quota) j["cpu_quota"] = *r.cpu_quota;
  if (r.cpu_period) j["cpu_period"] = *r.cpu_period;
  if (r.memory_limit) j["memory_limit"] = *r.memory_limit;
  if (r.memory_swap) j["memory_swap"] = *r.memory_swap;
  if (r.pids_limit) j["pids_limit"] = *r.pids_limit;
  if (!r.cpuset_cpus.empty()) j["cpuset_cpus"] = r.cpuset_cpus;
  if (!r.cpuset_mems.empty()) j["cpuset_mems"] = r.cpuset_mems;
  if (!r.unified.empty()) j["unified"] = r.unified;
  json huge = json::array();
  for (const auto& h : r.hugepage_limits) huge.push_back({{"page_size", h.page_size}, {"limit", h.limit_bytes}});
  if (!huge.empty()) j["hugepage_limits"] = huge;
  if (oom_score_adj) j["oom_score_adj"] = *oom_score_adj;
  return j;
}

void resources_from_json(const json& j, cgroups::CgroupResources& r, std::optional<int>& oom_score_adj) {
  if (j.contains("cpu_shares")) r.cpu_shares = j.at("cpu_shares").get<uint64_t>();
  if (j.contains("cpu_quota")) r.cpu_quota = j.at("cpu_quota").get<int64_t>();
  if (j.contains("cpu_period")) r.cpu_period = j.at("cpu_period").get<uint64_t>();
  if (j.contains("memory_limit")) r.memory_limit = j.at("memory_limit").get<int64_t>();
  if (j.contains("memory_swap")) r.memory_swap = j.at("memory_swap").get<int64_t>();
  if (j.contains("pids_limit")) r.pids_limit = j.at("pids_limit").get<int64_t>();
  r.cpuset_cpus = j.value("cpuset_cpus", std::string());
  r.cpuset_mems = j.value("cpuset_mems", std::string());
  if (j.contains("unified")) r.unified = j.at("unified").get<std::map<std::string, std::string>>();
  if (j.contains("hugepage_limits")) {
    for (const auto& h : j.at("hugepage_limits")) {
      r.hugepage_limits.push_back({h.at("page_size").get<std::string>(), h.at("limit").get<uint64_t>()});
    }
  }
  if (j.contains("oom_score_adj")) oom_score_adj = j.at("oom_score_adj").get<int>();
}

std::optional<int64_t> optional_int_from(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<int64_t>();
}

std::vector<std::string> list_json_ids(const std::string& dir) {
  std::vector<std::string> ids;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return ids;
  while (auto* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (name.size() > 5 && name.ends_with(".json")) ids.push_back(name.substr(0, name.size() - 5));
  }
  ::closedir(d);
  return ids;
}

void remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("remove " + path);
}

json id_mappings_to_json(const std::vector<IdMapping>& mappings) {
  json out = json::array();
  for (const auto& m : mappings) out.push_back({m.container_id, m.host_id, m.length});
  return out;
}

std::vector<IdMapping> id_mappings_from_json(const json& j) {
  std::vector<IdMapping> out;
  for (const auto& m : j) out.push_back({m.at(0).get<uint32_t>(), m.at(1).get<uint32_t>(), m.at(2).get<uint32_t>()});
  return out;
}

json userns_to_json(const UserNamespaceConfig& u) {
  return {{"mode", mode_name(u.mode)}, {"uids", id_mappings_to_json(u.uids)}, {"gids", id_mappings_to_json(u.gids)}};
}

UserNamespaceConfig userns_from_json(const json& j) {
  UserNamespaceConfig u;
  u.mode = mode_from(get_or(j, "mode", std::string("node")));
  if (auto it = j.find("uids"); it != j.end()) u.uids = id_mappings_from_json(*it);
  if (auto it = j.find("gids"); it != j.end()) u.gids = id_mappings_from_json(*it);
  return u;
}

}  // namespace

std::string sandbox_record_to_json(const SandboxRecord& record) {
  const SandboxInfo& s = record.info;
  const SandboxConfig& c = s.config;
  json j = {
      {"version", kRecordVersion},
      {"id", s.id},
      {"state", s.state == SandboxState::kReady ? "ready" : "notready"},
      {"created_at_ns", s.created_at_ns},
      {"netns_path", s.netns_path},
      {"ip", s.ip},
      {"additional_ips", s.additional_ips},
      {"pod_init_pid", s.pod_init_pid},
      {"pod_init_start_time", record.pod_init_start_time},
      {"cgroup_path", s.cgroup_path},
      {"config",
       {{"name", c.name},
        {"uid", c.uid},
        {"namespace", c.namespace_name},
        {"attempt", c.attempt},
        {"hostname", c.hostname},
        {"log_directory", c.log_directory},
        {"runtime_handler", c.runtime_handler},
        {"dns", {{"servers", c.dns.servers}, {"searches", c.dns.searches}, {"options", c.dns.options}}},
        {"labels", c.labels},
        {"annotations", c.annotations},
        {"network", mode_name(c.network)},
        {"pid", mode_name(c.pid)},
        {"ipc", mode_name(c.ipc)},
        {"userns", userns_to_json(c.userns)},
        {"sysctls", c.sysctls},
        {"cgroup_parent", c.cgroup_parent},
        {"privileged", c.privileged}}},
  };
  return j.dump();
}

SandboxRecord sandbox_record_from_json(const std::string& text) {
  json j = json::parse(text);
  SandboxRecord record;
  SandboxInfo& s = record.info;
  s.id = j.at("id").get<std::string>();
  s.state = j.at("state").get<std::string>() == "ready" ? SandboxState::kReady : SandboxState::kNotReady;
  s.created_at_ns = get_or(j, "created_at_ns", int64_t{0});
  s.netns_path = get_or(j, "netns_path", std::string());
  s.ip = get_or(j, "ip", std::string());
  s.additional_ips = get_or(j, "additional_ips", std::vector<std::string>{});
  s.pod_init_pid = get_or(j, "pod_init_pid", pid_t{0});
  record.pod_init_start_time = get_or(j, "pod_init_start_time", uint64_t{0});
  s.cgroup_path = get_or(j, "cgroup_path", std::string());
  const json& c = j.at("config");
  SandboxConfig& config = s.config;
  config.name = get_or(c, "name", std::string());
  config.uid = get_or(c, "uid", std::string());
  config.namespace_name = get_or(c, "namespace", std::string());
  config.attempt = get_or(c, "attempt", 0u);
  config.hostname = get_or(c, "hostname", std::string());
  config.log_directory = get_or(c, "log_directory", std::string());
  config.runtime_handler = get_or(c, "runtime_handler", std::string());
  if (auto dns = c.find("dns"); dns != c.end()) {
    config.dns.servers = get_or(*dns, "servers", std::vector<std::string>{});
    config.dns.searches = get_or(*dns, "searches", std::vector<std::string>{});
    config.dns.options = get_or(*dns, "options", std::vector<std::string>{});
  }
  config.labels = get_or(c, "labels", StringMap{});
  config.annotations = get_or(c, "annotations", StringMap{});
  config.network = mode_from(get_or(c, "network", std::string("pod")));
  config.pid = mode_from(get_or(c, "pid", std::string("container")));
  config.ipc = mode_from(get_or(c, "ipc", std::string("pod")));
  if (auto u = c.find("userns"); u != c.end()) config.userns = userns_from_json(*u);
  config.sysctls = get_or(c, "sysctls", StringMap{});
  config.cgroup_parent = get_or(c, "cgroup_parent", std::string());
  config.privileged = get_or(c, "privileged", false);
  return record;
}

std::string container_record_to_json(const ContainerRecord& record) {
  const ContainerInfo& s = record.info;
  const ContainerConfig& c = s.config;
  json mounts = json::array();
  for (const auto& m : c.mounts) {
    mounts.push_back({{"container_path", m.container_path},
                      {"host_path", m.host_path},
                      {"readonly", m.readonly},
                      {"recursive_readonly", m.recursive_readonly},
                      {"propagation", propagation_name(m.propagation)}});
  }
  json devices = json::array();
  for (const auto& d : c.devices) {
    devices.push_back({{"container_path", d.container_path},
                       {"host_path", d.host_path},
                       {"permissions", d.permissions}});
  }
  json envs = json::array();
  for (const auto& [k, v] : c.envs) envs.push_back({k, v});
  json j = {
      {"version", kRecordVersion},
      {"id", s.id},
      {"sandbox_id", s.sandbox_id},
      {"state", container_state_name(s.state)},
      {"creating", record.creating},
      {"created_at_ns", s.created_at_ns},
      {"started_at_ns", s.started_at_ns},
      {"finished_at_ns", s.finished_at_ns},
      {"exit_code", s.exit_code},
      {"reason", s.reason},
      {"message", s.message},
      {"log_path", s.log_path},
      {"pid", s.pid},
      {"start_time", record.start_time},
      {"monitor_pid", record.monitor_pid},
      {"monitor_start_time", record.monitor_start_time},
      {"bundle_dir", record.bundle_dir},
      {"cgroup_path", s.cgroup_path},
      {"writable_layer", record.writable_layer},
      {"resources", resources_to_json(c.resources, c.oom_score_adj)},
      {"stop_signal", record.stop_signal},
      {"process", process_to_json(record.process)},
      {"config",
       {{"name", c.name},
        {"attempt", c.attempt},
        {"image", c.image},
        {"image_id", c.image_id},
        {"image_ref", c.image_ref},
        {"command", c.command},
        {"args", c.args},
        {"working_dir", c.working_dir},
        {"envs", envs},
        {"mounts", mounts},
        {"devices", devices},
        {"labels", c.labels},
        {"annotations", c.annotations},
        {"log_path", c.log_path},
        {"stdin", c.stdin},
        {"stdin_once", c.stdin_once},
        {"tty", c.tty},
        {"run_as_user", optional_int(c.run_as_user)},
        {"run_as_username", c.run_as_username},
        {"run_as_group", optional_int(c.run_as_group)},
        {"supplemental_groups", c.supplemental_groups},
        {"readonly_rootfs", c.readonly_rootfs},
        {"privileged", c.privileged},
        {"pid_namespace", mode_name(c.pid_namespace)},
        {"pid_target_id", c.pid_target_id}}},
  };
  return j.dump();
}

ContainerRecord container_record_from_json(const std::string& text) {
  json j = json::parse(text);
  ContainerRecord record;
  ContainerInfo& s = record.info;
  s.id = j.at("id").get<std::string>();
  s.sandbox_id = j.at("sandbox_id").get<std::string>();
  s.state = container_state_from(j.at("state").get<std::string>());
  record.creating = get_or(j, "creating", false);
  s.created_at_ns = get_or(j, "created_at_ns", int64_t{0});
  s.started_at_ns = get_or(j, "started_at_ns", int64_t{0});
  s.finished_at_ns = get_or(j, "finished_at_ns", int64_t{0});
  s.exit_code = get_or(j, "exit_code", 0);
  s.reason = get_or(j, "reason", std::string());
  s.message = get_or(j, "message", std::string());
  s.log_path = get_or(j, "log_path", std::string());
  s.pid = get_or(j, "pid", pid_t{0});
  record.start_time = get_or(j, "start_time", uint64_t{0});
  record.monitor_pid = get_or(j, "monitor_pid", pid_t{0});
  record.monitor_start_time = get_or(j, "monitor_start_time", uint64_t{0});
  record.bundle_dir = get_or(j, "bundle_dir", std::string());
  s.cgroup_path = get_or(j, "cgroup_path", std::string());
  record.writable_layer = get_or(j, "writable_layer", std::string());
  if (auto r = j.find("resources"); r != j.end() && r->is_object()) {
    resources_from_json(*r, s.config.resources, s.config.oom_score_adj);
  }
  record.stop_signal = get_or(j, "stop_signal", 15);
  if (auto p = j.find("process"); p != j.end()) record.process = process_from_json(*p);
  const json& c = j.at("config");
  ContainerConfig& config = s.config;
  config.name = get_or(c, "name", std::string());
  config.attempt = get_or(c, "attempt", 0u);
  config.image = get_or(c, "image", std::string());
  config.image_id = get_or(c, "image_id", std::string());
  config.image_ref = get_or(c, "image_ref", std::string());
  config.command = get_or(c, "command", std::vector<std::string>{});
  config.args = get_or(c, "args", std::vector<std::string>{});
  config.working_dir = get_or(c, "working_dir", std::string());
  if (auto envs = c.find("envs"); envs != c.end()) {
    for (const auto& kv : *envs) config.envs.emplace_back(kv.at(0).get<std::string>(), kv.at(1).get<std::string>());
  }
  if (auto mounts = c.find("mounts"); mounts != c.end()) {
    for (const auto& m : *mounts) {
      config.mounts.push_back({get_or(m, "container_path", std::string()), get_or(m, "host_path", std::string()),
                               get_or(m, "readonly", false),
                               propagation_from(get_or(m, "propagation", std::string("private"))),
                               get_or(m, "recursive_readonly", false)});
    }
  }
  if (auto devices = c.find("devices"); devices != c.end()) {
    for (const auto& d : *devices) {
      config.devices.push_back({get_or(d, "container_path", std::string()), get_or(d, "host_path", std::string()),
                                get_or(d, "permissions", std::string("rwm"))});
    }
  }
  config.labels = get_or(c, "labels", StringMap{});
  config.annotations = get_or(c, "annotations", StringMap{});
  config.log_path = get_or(c, "log_path", std::string());
  config.stdin = get_or(c, "stdin", false);
  config.stdin_once = get_or(c, "stdin_once", false);
  config.tty = get_or(c, "tty", false);
  config.run_as_user = optional_int_from(c, "run_as_user");
  config.run_as_username = get_or(c, "run_as_username", std::string());
  config.run_as_group = optional_int_from(c, "run_as_group");
  config.supplemental_groups = get_or(c, "supplemental_groups", std::vector<int64_t>{});
  config.readonly_rootfs = get_or(c, "readonly_rootfs", false);
  config.privileged = get_or(c, "privileged", false);
  config.pid_namespace = mode_from(get_or(c, "pid_namespace", std::string("container")));
  config.pid_target_id = get_or(c, "pid_target_id", std::string());
  return record;
}

void write_state_file(const std::string& path, const std::string& data, unsigned mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw_errno("create " + tmp);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw_errno(ErrorKind::kInternal, err, "write " + tmp);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw_errno(ErrorKind::kInternal, err, "rename " + tmp);
  }
}

StateStore::StateStore(std::string root_dir)
    : sandboxes_dir_(root_dir + "/sandboxes"), containers_dir_(root_dir + "/containers") {
  make_dirs(sandboxes_dir_, 0700);
  make_dirs(containers_dir_, 0700);
}

std::string StateStore::sandbox_path(const std::string& id) const { return sandboxes_dir_ + "/" + id + ".json"; }
std::string StateStore::container_path(const std::string& id) const { return containers_dir_ + "/" + id + ".json"; }

void StateStore::save(const SandboxRecord& record, Durability durability) const {
  if (durability == Durability::kSync) {
    atomic_write_file(sandbox_path(record.info.id), sandbox_record_to_json(record), 0600);
  } else {
    write_state_file(sandbox_path(record.info.id), sandbox_record_to_json(record), 0600);
  }
}

void StateStore::save(const ContainerRecord& record, Durability durability) const {
  if (durability == Durability::kSync) {
    atomic_write_file(container_path(record.info.id), container_record_to_json(record), 0600);
  } else {
    write_state_file(container_path(record.info.id), container_record_to_json(record), 0600);
  }
}

void StateStore::remove_sandbox(const std::string& id) const { remove_file(sandbox_path(id)); }
void StateStore::remove_container(const std::string& id) const { remove_file(container_path(id)); }

std::vector<SandboxRecord> StateStore::load_sandboxes() const {
  std::vector<SandboxRecord> records;
  for (const auto& id : list_json_ids(sandboxes_dir_)) {
    try {
      records.push_back(sandbox_record_from_json(read_file(sandbox_path(id))));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "crisp runtime: skipping unreadable sandbox record %s: %s\n", id.c_str(), e.what());
    }
  }
  return records;
}

std::vector<ContainerRecord> StateStore::load_containers() const {
  std::vector<ContainerRecord> records;
  for (const auto& id : list_json_ids(containers_dir_)) {
    try {
      records.push_back(container_record_from_json(read_file(container_path(id))));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "crisp runtime: skipping unreadable container record %s: %s\n", id.c_str(), e.what());
    }
  }
  return records;
}

}  // namespace crisp::runtime
