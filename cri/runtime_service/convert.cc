#include "cri/runtime_service/convert.h"

#include <algorithm>
#include "cri/runtime_service/limits_convert.h"

#include <nlohmann/json.hpp>

#include "runtime/base/error.h"

namespace crisp::cri {

namespace v1 = ::runtime::v1;

namespace {

runtime::NamespaceMode mode_from_cri(v1::NamespaceMode mode) {
  switch (mode) {
    case v1::POD: return runtime::NamespaceMode::kPod;
    case v1::CONTAINER: return runtime::NamespaceMode::kContainer;
    case v1::NODE: return runtime::NamespaceMode::kNode;
    case v1::TARGET: return runtime::NamespaceMode::kTarget;
    default: throw Error(ErrorKind::kInvalidArgument, "unknown namespace mode " + std::to_string(mode));
  }
}

v1::NamespaceMode mode_to_cri(runtime::NamespaceMode mode) {
  switch (mode) {
    case runtime::NamespaceMode::kPod: return v1::POD;
    case runtime::NamespaceMode::kContainer: return v1::CONTAINER;
    case runtime::NamespaceMode::kNode: return v1::NODE;
    case runtime::NamespaceMode::kTarget: return v1::TARGET;
  }
  return v1::POD;
}

v1::ContainerState state_to_cri(runtime::ContainerState state) {
  switch (state) {
    case runtime::ContainerState::kCreated: return v1::CONTAINER_CREATED;
    case runtime::ContainerState::kRunning: return v1::CONTAINER_RUNNING;
    case runtime::ContainerState::kExited: return v1::CONTAINER_EXITED;
    case runtime::ContainerState::kUnknown: return v1::CONTAINER_UNKNOWN;
  }
  return v1::CONTAINER_UNKNOWN;
}

runtime::ContainerState state_from_cri(v1::ContainerState state) {
  switch (state) {
    case v1::CONTAINER_CREATED: return runtime::ContainerState::kCreated;
    case v1::CONTAINER_RUNNING: return runtime::ContainerState::kRunning;
    case v1::CONTAINER_EXITED: return runtime::ContainerState::kExited;
    default: return runtime::ContainerState::kUnknown;
  }
}

runtime::StringMap to_map(const google::protobuf::Map<std::string, std::string>& m) {
  return runtime::StringMap(m.begin(), m.end());
}

void fill_map(const runtime::StringMap& from, google::protobuf::Map<std::string, std::string>* to) {
  for (const auto& [k, v] : from) (*to)[k] = v;
}

std::vector<runtime::IdMapping> id_mappings_from_cri(const google::protobuf::RepeatedPtrField<v1::IDMapping>& from) {
  std::vector<runtime::IdMapping> out;
  for (const auto& m : from) out.push_back({m.container_id(), m.host_id(), m.length()});
  return out;
}

void fill_id_mappings(const std::vector<runtime::IdMapping>& from, google::protobuf::RepeatedPtrField<v1::IDMapping>* to) {
  for (const auto& m : from) {
    auto* out = to->Add();
    out->set_container_id(m.container_id);
    out->set_host_id(m.host_id);
    out->set_length(m.length);
  }
}

// NamespaceOption.userns_options: absent = the host's (NODE). The runtime validates the mappings.
runtime::UserNamespaceConfig userns_from_cri(const v1::UserNamespace& userns) {
  runtime::UserNamespaceConfig c;
  c.mode = mode_from_cri(userns.mode());
  if (c.mode != runtime::NamespaceMode::kPod && c.mode != runtime::NamespaceMode::kNode) {
    throw Error(ErrorKind::kInvalidArgument, "user namespace mode must be POD or NODE");
  }
  c.uids = id_mappings_from_cri(userns.uids());
  c.gids = id_mappings_from_cri(userns.gids());
  return c;
}

}  // namespace

runtime::SandboxConfig sandbox_config_from_cri(const v1::PodSandboxConfig& config, const std::string& runtime_handler) {
  if (std::find(kRuntimeHandlers.begin(), kRuntimeHandlers.end(), runtime_handler) == kRuntimeHandlers.end())
    throw Error(ErrorKind::kInvalidArgument,
                "unknown runtime handler \"" + runtime_handler + "\": crisp serves \"\" and \"crisp\"");
  runtime::SandboxConfig c;
  c.name = config.metadata().name();
  c.uid = config.metadata().uid();
  c.namespace_name = config.metadata().namespace_();
  c.attempt = config.metadata().attempt();
  c.hostname = config.hostname();
  c.log_directory = config.log_directory();
  c.runtime_handler = runtime_handler;
  const auto& dns = config.dns_config();
  c.dns.servers.assign(dns.servers().begin(), dns.servers().end());
  c.dns.searches.assign(dns.searches().begin(), dns.searches().end());
  c.dns.options.assign(dns.options().begin(), dns.options().end());
  c.labels = to_map(config.labels());
  c.annotations = to_map(config.annotations());
  const auto& linux = config.linux();
  c.cgroup_parent = linux.cgroup_parent();
  if (linux.has_resources()) c.resources = cgroup_resources_from_cri(linux.resources());
  c.sysctls = to_map(linux.sysctls());
  const auto& security = linux.security_context();
  c.privileged = security.privileged();
  const auto& ns = security.namespace_options();
  c.network = mode_from_cri(ns.network());
  c.pid = mode_from_cri(ns.pid());
  c.ipc = mode_from_cri(ns.ipc());
  if (c.network == runtime::NamespaceMode::kContainer || c.network == runtime::NamespaceMode::kTarget) {
    throw Error(ErrorKind::kInvalidArgument, "network namespace mode must be POD or NODE");
  }
  if (c.ipc == runtime::NamespaceMode::kContainer || c.ipc == runtime::NamespaceMode::kTarget) {
    throw Error(ErrorKind::kInvalidArgument, "ipc namespace mode must be POD or NODE");
  }
  if (ns.has_userns_options()) c.userns = userns_from_cri(ns.userns_options());
  return c;
}

runtime::ContainerConfig container_config_from_cri(const v1::ContainerConfig& config) {
  runtime::ContainerConfig c;
  c.name = config.metadata().name();
  c.attempt = config.metadata().attempt();
  c.image = config.image().image();
  c.command.assign(config.command().begin(), config.command().end());
  c.args.assign(config.args().begin(), config.args().end());
  c.working_dir = config.working_dir();
  for (const auto& kv : config.envs()) c.envs.emplace_back(kv.key(), kv.value());
  for (const auto& m : config.mounts()) {
    if (!m.image().image().empty()) {
      throw Error(ErrorKind::kUnimplemented, "image volume mounts are not supported yet");
    }
    runtime::Mount mount;
    mount.container_path = m.container_path();
    mount.host_path = m.host_path();
    mount.readonly = m.readonly();
    if (m.recursive_read_only()) {
      // As containerd: only meaningful for a read-only, private mount.
      if (!m.readonly())
        throw Error(ErrorKind::kInvalidArgument,
                    "mount " + m.container_path() + ": recursive_read_only needs readonly");
      if (m.propagation() != v1::PROPAGATION_PRIVATE)
        throw Error(ErrorKind::kInvalidArgument,
                    "mount " + m.container_path() + ": recursive_read_only needs private propagation");
      mount.recursive_readonly = true;
    }
    switch (m.propagation()) {
      case v1::PROPAGATION_HOST_TO_CONTAINER: mount.propagation = runtime::MountPropagation::kHostToContainer; break;
      case v1::PROPAGATION_BIDIRECTIONAL: mount.propagation = runtime::MountPropagation::kBidirectional; break;
      default: mount.propagation = runtime::MountPropagation::kPrivate; break;
    }
    if (m.uidmappings_size() > 0 || m.gidmappings_size() > 0) {
      c.mount_idmappings.push_back(
          {m.container_path(), id_mappings_from_cri(m.uidmappings()), id_mappings_from_cri(m.gidmappings())});
    }
    c.mounts.push_back(std::move(mount));
  }
  for (const auto& d : config.devices()) c.devices.push_back({d.container_path(), d.host_path(), d.permissions()});
  c.labels = to_map(config.labels());
  c.annotations = to_map(config.annotations());
  c.log_path = config.log_path();
  c.stdin = config.stdin();
  c.stdin_once = config.stdin_once();
  c.tty = config.tty();
  const auto& security = config.linux().security_context();
  if (security.has_run_as_user()) c.run_as_user = security.run_as_user().value();
  c.run_as_username = security.run_as_username();
  if (security.has_run_as_group()) c.run_as_group = security.run_as_group().value();
  c.supplemental_groups.assign(security.supplemental_groups().begin(), security.supplemental_groups().end());
  c.readonly_rootfs = security.readonly_rootfs();
  c.privileged = security.privileged();
  c.security = security_config_from_cri(security);
  if (config.linux().has_resources()) {
    c.resources = cgroup_resources_from_cri(config.linux().resources());
    c.oom_score_adj = oom_score_adj_from_cri(config.linux().resources());
  }
  c.pid_namespace = mode_from_cri(security.namespace_options().pid());
  c.pid_target_id = security.namespace_options().target_id();
  if (security.namespace_options().has_userns_options()) {
    c.userns = userns_from_cri(security.namespace_options().userns_options());
  }
  return c;
}

runtime::SandboxFilter sandbox_filter_from_cri(const v1::PodSandboxFilter& filter) {
  runtime::SandboxFilter f;
  f.id = filter.id();
  if (filter.has_state()) {
    f.state = filter.state().state() == v1::SANDBOX_READY ? runtime::SandboxState::kReady
                                                          : runtime::SandboxState::kNotReady;
  }
  f.label_selector = to_map(filter.label_selector());
  return f;
}

runtime::ContainerFilter container_filter_from_cri(const v1::ContainerFilter& filter) {
  runtime::ContainerFilter f;
  f.id = filter.id();
  if (filter.has_state()) f.state = state_from_cri(filter.state().state());
  f.sandbox_id = filter.pod_sandbox_id();
  f.label_selector = to_map(filter.label_selector());
  return f;
}

void fill_pod_sandbox_status(const runtime::SandboxInfo& info, v1::PodSandboxStatus* out) {
  const auto& c = info.config;
  out->set_id(info.id);
  auto* md = out->mutable_metadata();
  md->set_name(c.name);
  md->set_uid(c.uid);
  md->set_namespace_(c.namespace_name);
  md->set_attempt(c.attempt);
  out->set_state(info.state == runtime::SandboxState::kReady ? v1::SANDBOX_READY : v1::SANDBOX_NOTREADY);
  out->set_created_at(info.created_at_ns);
  auto* network = out->mutable_network();
  network->set_ip(info.ip);
  for (const auto& ip : info.additional_ips) network->add_additional_ips()->set_ip(ip);
  auto* ns = out->mutable_linux()->mutable_namespaces()->mutable_options();
  ns->set_network(mode_to_cri(c.network));
  ns->set_pid(mode_to_cri(c.pid));
  ns->set_ipc(mode_to_cri(c.ipc));
  auto* userns = ns->mutable_userns_options();
  userns->set_mode(mode_to_cri(c.userns.mode));
  fill_id_mappings(c.userns.uids, userns->mutable_uids());
  fill_id_mappings(c.userns.gids, userns->mutable_gids());
  fill_map(c.labels, out->mutable_labels());
  fill_map(c.annotations, out->mutable_annotations());
  out->set_runtime_handler(c.runtime_handler);
}

void fill_pod_sandbox(const runtime::SandboxInfo& info, v1::PodSandbox* out) {
  const auto& c = info.config;
  out->set_id(info.id);
  auto* md = out->mutable_metadata();
  md->set_name(c.name);
  md->set_uid(c.uid);
  md->set_namespace_(c.namespace_name);
  md->set_attempt(c.attempt);
  out->set_state(info.state == runtime::SandboxState::kReady ? v1::SANDBOX_READY : v1::SANDBOX_NOTREADY);
  out->set_created_at(info.created_at_ns);
  fill_map(c.labels, out->mutable_labels());
  fill_map(c.annotations, out->mutable_annotations());
  out->set_runtime_handler(c.runtime_handler);
}

void fill_container_status(const runtime::ContainerInfo& info, v1::ContainerStatus* out) {
  const auto& c = info.config;
  out->set_id(info.id);
  out->mutable_metadata()->set_name(c.name);
  out->mutable_metadata()->set_attempt(c.attempt);
  out->set_state(state_to_cri(info.state));
  out->set_created_at(info.created_at_ns);
  out->set_started_at(info.started_at_ns);
  out->set_finished_at(info.finished_at_ns);
  out->set_exit_code(info.exit_code);
  out->mutable_image()->set_image(c.image);
  out->set_image_ref(c.image_ref);
  out->set_image_id(c.image_id);
  out->set_reason(info.reason);
  if (!info.config.resources.empty() || info.config.oom_score_adj) {
    fill_cri_resources(info.config.resources, info.config.oom_score_adj, out->mutable_resources()->mutable_linux());
  }
  out->set_message(info.message);
  fill_map(c.labels, out->mutable_labels());
  fill_map(c.annotations, out->mutable_annotations());
  for (const auto& m : c.mounts) {
    auto* mount = out->add_mounts();
    mount->set_container_path(m.container_path);
    mount->set_host_path(m.host_path);
    mount->set_readonly(m.readonly);
    switch (m.propagation) {
      case runtime::MountPropagation::kPrivate: mount->set_propagation(v1::PROPAGATION_PRIVATE); break;
      case runtime::MountPropagation::kHostToContainer: mount->set_propagation(v1::PROPAGATION_HOST_TO_CONTAINER); break;
      case runtime::MountPropagation::kBidirectional: mount->set_propagation(v1::PROPAGATION_BIDIRECTIONAL); break;
    }
  }
  out->set_log_path(info.log_path);
  auto* user = out->mutable_user()->mutable_linux();
  user->set_uid(info.uid);
  user->set_gid(info.gid);
  for (uint32_t g : info.supplemental_groups) user->add_supplemental_groups(g);
}

void fill_container(const runtime::ContainerInfo& info, v1::Container* out) {
  const auto& c = info.config;
  out->set_id(info.id);
  out->set_pod_sandbox_id(info.sandbox_id);
  out->mutable_metadata()->set_name(c.name);
  out->mutable_metadata()->set_attempt(c.attempt);
  out->mutable_image()->set_image(c.image);
  out->set_image_ref(c.image_ref);
  out->set_image_id(c.image_id);
  out->set_state(state_to_cri(info.state));
  out->set_created_at(info.created_at_ns);
  fill_map(c.labels, out->mutable_labels());
  fill_map(c.annotations, out->mutable_annotations());
}

std::string container_verbose_info(const runtime::ContainerInfo& info) {
  nlohmann::json j = {{"sandboxID", info.sandbox_id},
                      {"pid", info.pid},
                      {"logPath", info.log_path},
                      {"spec", info.spec}};
  return j.dump();
}

std::string sandbox_verbose_info(const runtime::SandboxInfo& info) {
  nlohmann::json j = {{"netNamespacePath", info.netns_path},
                      {"podInitPid", info.pod_init_pid},
                      {"runtimeHandler", info.config.runtime_handler}};
  return j.dump();
}

runtime::Runtime& require_runtime(runtime::Runtime* runtime) {
  if (!runtime) throw Error(ErrorKind::kUnavailable, "the container runtime is not available");
  return *runtime;
}

}  // namespace crisp::cri
