#include "runtime/security/container_security.h"

#include <sys/stat.h>

#include "runtime/base/error.h"

namespace crisp::security {

namespace {

bool exists(const char* path) {
  struct stat st;
  return ::stat(path, &st) == 0;
}

}  // namespace

bool host_has_apparmor() { return exists("/sys/module/apparmor/parameters/enabled"); }
bool host_has_selinux() { return exists("/sys/fs/selinux/enforce"); }

ContainerSecurity resolve_container_security(const ContainerSecurityConfig& config, uint32_t uid,
                                             bool sandbox_privileged, SeccompFilterCache& cache) {
  if (config.privileged && !sandbox_privileged) {
    throw Error(ErrorKind::kInvalidArgument,
                "a privileged container is not allowed in a sandbox that is not privileged");
  }
  ContainerSecurity out;
  CapabilityRequest caps;
  caps.add = config.add_capabilities;
  caps.drop = config.drop_capabilities;
  caps.add_ambient = config.add_ambient_capabilities;
  caps.privileged = config.privileged;
  caps.uid = uid;
  out.capabilities = compute_capabilities(caps);
  out.no_new_privs = config.no_new_privs;
  out.paths = hardening_paths(config.privileged, config.masked_paths, config.readonly_paths);

  switch (config.apparmor.kind) {
    case LsmChoice::Kind::kUnset:
    case LsmChoice::Kind::kUnconfined:
      break;
    case LsmChoice::Kind::kRuntimeDefault:
      if (!host_has_apparmor()) out.warnings.push_back("apparmor runtime/default ignored: the host has no AppArmor");
      break;
    case LsmChoice::Kind::kLocalhost:
      throw Error(ErrorKind::kInvalidArgument, "apparmor profile \"" + config.apparmor.localhost_ref +
                                                   "\" requested, but crisp does not support AppArmor on this host");
  }
  if (config.has_selinux_options && !host_has_selinux()) {
    out.warnings.push_back("selinux options ignored: the host has no SELinux");
  }

  if (!config.privileged) {
    SeccompContext ctx;
    ctx.bounding_capabilities = out.capabilities.bounding;
    if (config.seccomp.kind == SeccompChoice::Kind::kRuntimeDefault) {
      out.seccomp_bpf_path = cache.runtime_default_path(ctx);
    } else if (auto profile = resolve_seccomp_choice(config.seccomp, ctx)) {
      out.seccomp_bpf_path = cache.filter_path(*profile);
    }
  }
  return out;
}

}  // namespace crisp::security
