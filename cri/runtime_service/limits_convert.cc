#include "cri/runtime_service/limits_convert.h"

#include "runtime/base/error.h"

namespace crisp::cri {

namespace {

// The deprecated string fields are still what older kubelets and crictl send.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
const std::string& legacy_seccomp_path(const ::runtime::v1::LinuxContainerSecurityContext& sc) {
  return sc.seccomp_profile_path();
}
const std::string& legacy_apparmor_profile(const ::runtime::v1::LinuxContainerSecurityContext& sc) {
  return sc.apparmor_profile();
}
#pragma GCC diagnostic pop

security::SeccompChoice seccomp_choice(const ::runtime::v1::LinuxContainerSecurityContext& sc) {
  if (!sc.has_seccomp()) return security::parse_seccomp_profile_path(legacy_seccomp_path(sc));
  security::SeccompChoice c;
  switch (sc.seccomp().profile_type()) {
    case ::runtime::v1::SecurityProfile::RuntimeDefault:
      c.kind = security::SeccompChoice::Kind::kRuntimeDefault;
      break;
    case ::runtime::v1::SecurityProfile::Unconfined:
      c.kind = security::SeccompChoice::Kind::kUnconfined;
      break;
    case ::runtime::v1::SecurityProfile::Localhost:
      c.kind = security::SeccompChoice::Kind::kLocalhost;
      c.localhost_path = sc.seccomp().localhost_ref();
      if (c.localhost_path.rfind("localhost/", 0) == 0) c.localhost_path = c.localhost_path.substr(10);
      if (c.localhost_path.empty() || c.localhost_path[0] != '/') {
        throw Error(ErrorKind::kInvalidArgument,
                    "seccomp localhost_ref \"" + sc.seccomp().localhost_ref() + "\" must be an absolute path");
      }
      break;
    default:
      throw Error(ErrorKind::kInvalidArgument, "unknown seccomp profile type");
  }
  return c;
}

security::LsmChoice apparmor_choice(const ::runtime::v1::LinuxContainerSecurityContext& sc) {
  security::LsmChoice c;
  if (sc.has_apparmor()) {
    switch (sc.apparmor().profile_type()) {
      case ::runtime::v1::SecurityProfile::RuntimeDefault:
        c.kind = security::LsmChoice::Kind::kRuntimeDefault;
        break;
      case ::runtime::v1::SecurityProfile::Unconfined:
        c.kind = security::LsmChoice::Kind::kUnconfined;
        break;
      default:
        c.kind = security::LsmChoice::Kind::kLocalhost;
        c.localhost_ref = sc.apparmor().localhost_ref();
        break;
    }
    return c;
  }
  const std::string& p = legacy_apparmor_profile(sc);
  if (p.empty()) return c;
  if (p == "unconfined") {
    c.kind = security::LsmChoice::Kind::kUnconfined;
  } else if (p == "runtime/default") {
    c.kind = security::LsmChoice::Kind::kRuntimeDefault;
  } else {
    c.kind = security::LsmChoice::Kind::kLocalhost;
    c.localhost_ref = p.rfind("localhost/", 0) == 0 ? p.substr(10) : p;
  }
  return c;
}

}  // namespace

cgroups::CgroupResources cgroup_resources_from_cri(const ::runtime::v1::LinuxContainerResources& r) {
  cgroups::CgroupResources out;
  if (r.cpu_shares() < 0) {
    throw Error(ErrorKind::kInvalidArgument, "cpu_shares " + std::to_string(r.cpu_shares()) + " is negative");
  }
  if (r.cpu_period() < 0) {
    throw Error(ErrorKind::kInvalidArgument, "cpu_period " + std::to_string(r.cpu_period()) + " is negative");
  }
  if (r.cpu_shares() != 0) out.cpu_shares = static_cast<uint64_t>(r.cpu_shares());
  if (r.cpu_period() != 0) out.cpu_period = static_cast<uint64_t>(r.cpu_period());
  if (r.cpu_quota() != 0) out.cpu_quota = r.cpu_quota();
  if (r.memory_limit_in_bytes() != 0) out.memory_limit = r.memory_limit_in_bytes();
  if (r.memory_swap_limit_in_bytes() != 0) out.memory_swap = r.memory_swap_limit_in_bytes();
  out.cpuset_cpus = r.cpuset_cpus();
  out.cpuset_mems = r.cpuset_mems();
  for (const auto& h : r.hugepage_limits()) out.hugepage_limits.push_back({h.page_size(), h.limit()});
  for (const auto& [k, v] : r.unified()) out.unified[k] = v;
  cgroups::validate_resources(out);
  return out;
}

void fill_cri_resources(const cgroups::CgroupResources& r, std::optional<int> oom_score_adj,
                        ::runtime::v1::LinuxContainerResources* out) {
  if (r.cpu_period) out->set_cpu_period(static_cast<int64_t>(*r.cpu_period));
  if (r.cpu_quota) out->set_cpu_quota(*r.cpu_quota);
  if (r.cpu_shares) out->set_cpu_shares(static_cast<int64_t>(*r.cpu_shares));
  if (r.memory_limit) out->set_memory_limit_in_bytes(*r.memory_limit);
  if (r.memory_swap) out->set_memory_swap_limit_in_bytes(*r.memory_swap);
  if (oom_score_adj) out->set_oom_score_adj(*oom_score_adj);
  out->set_cpuset_cpus(r.cpuset_cpus);
  out->set_cpuset_mems(r.cpuset_mems);
  for (const auto& h : r.hugepage_limits) {
    auto* limit = out->add_hugepage_limits();
    limit->set_page_size(h.page_size);
    limit->set_limit(h.limit_bytes);
  }
  for (const auto& [k, v] : r.unified) (*out->mutable_unified())[k] = v;
}

std::optional<int> oom_score_adj_from_cri(const ::runtime::v1::LinuxContainerResources& r) {
  if (r.oom_score_adj() == 0) return std::nullopt;
  if (r.oom_score_adj() < -1000 || r.oom_score_adj() > 1000) {
    throw Error(ErrorKind::kInvalidArgument, "oom_score_adj " + std::to_string(r.oom_score_adj()) + " outside [-1000, 1000]");
  }
  return static_cast<int>(r.oom_score_adj());
}

security::ContainerSecurityConfig security_config_from_cri(const ::runtime::v1::LinuxContainerSecurityContext& sc) {
  security::ContainerSecurityConfig c;
  c.privileged = sc.privileged();
  c.add_capabilities.assign(sc.capabilities().add_capabilities().begin(), sc.capabilities().add_capabilities().end());
  c.drop_capabilities.assign(sc.capabilities().drop_capabilities().begin(),
                             sc.capabilities().drop_capabilities().end());
  c.add_ambient_capabilities.assign(sc.capabilities().add_ambient_capabilities().begin(),
                                    sc.capabilities().add_ambient_capabilities().end());
  c.no_new_privs = sc.no_new_privs();
  c.seccomp = seccomp_choice(sc);
  c.apparmor = apparmor_choice(sc);
  c.masked_paths.assign(sc.masked_paths().begin(), sc.masked_paths().end());
  c.readonly_paths.assign(sc.readonly_paths().begin(), sc.readonly_paths().end());
  const auto& se = sc.selinux_options();
  c.has_selinux_options = sc.has_selinux_options() &&
                          !(se.user().empty() && se.role().empty() && se.type().empty() && se.level().empty());
  return c;
}

void fill_cpu_usage(const cgroups::CgroupStats& stats, int64_t timestamp_ns, std::optional<uint64_t> nano_cores,
                    ::runtime::v1::CpuUsage* out) {
  out->set_timestamp(timestamp_ns);
  out->mutable_usage_core_nano_seconds()->set_value(stats.cpu_usage_ns);
  if (nano_cores) out->mutable_usage_nano_cores()->set_value(*nano_cores);
}

void fill_memory_usage(const cgroups::CgroupStats& stats, int64_t timestamp_ns, ::runtime::v1::MemoryUsage* out) {
  out->set_timestamp(timestamp_ns);
  out->mutable_working_set_bytes()->set_value(stats.memory_working_set_bytes);
  out->mutable_available_bytes()->set_value(stats.memory_available_bytes);
  out->mutable_usage_bytes()->set_value(stats.memory_usage_bytes);
  out->mutable_rss_bytes()->set_value(stats.memory_rss_bytes);
  out->mutable_page_faults()->set_value(stats.memory_page_faults);
  out->mutable_major_page_faults()->set_value(stats.memory_major_page_faults);
}

void fill_network_usage(const std::vector<runtime::NetworkInterfaceStats>& interfaces, int64_t timestamp_ns,
                        ::runtime::v1::NetworkUsage* out) {
  out->set_timestamp(timestamp_ns);
  auto fill = [](const runtime::NetworkInterfaceStats& s, ::runtime::v1::NetworkInterfaceUsage* u) {
    u->set_name(s.name);
    u->mutable_rx_bytes()->set_value(s.rx_bytes);
    u->mutable_rx_errors()->set_value(s.rx_errors);
    u->mutable_tx_bytes()->set_value(s.tx_bytes);
    u->mutable_tx_errors()->set_value(s.tx_errors);
  };
  const runtime::NetworkInterfaceStats* default_interface = nullptr;
  for (const auto& s : interfaces) {
    if (s.name == "eth0") default_interface = &s;
    fill(s, out->add_interfaces());
  }
  if (!default_interface && !interfaces.empty()) default_interface = &interfaces.front();
  if (default_interface) fill(*default_interface, out->mutable_default_interface());
}

}  // namespace crisp::cri
