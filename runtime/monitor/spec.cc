#include "runtime/monitor/spec.h"

#include <cstdio>

#include "runtime/base/error.h"
#include "runtime/monitor/spec_parse.h"

namespace crisp::monitor {

namespace {

class SpecWriter {
 public:
  SpecWriter() { out_ = "crisp-spec " + std::to_string(kSpecVersion) + "\n"; }

  SpecWriter& key(const char* k) {
    out_ += k;
    return *this;
  }
  SpecWriter& field(const std::string& v) {
    out_ += ' ';
    out_ += escape_spec_field(v);
    return *this;
  }
  SpecWriter& number(uint64_t v) {
    out_ += ' ';
    out_ += std::to_string(v);
    return *this;
  }
  SpecWriter& signed_number(int64_t v) {
    out_ += ' ';
    out_ += std::to_string(v);
    return *this;
  }
  SpecWriter& hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof(buf), " 0x%llx", static_cast<unsigned long long>(v));
    out_ += buf;
    return *this;
  }
  SpecWriter& octal(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), " 0%o", v);
    out_ += buf;
    return *this;
  }
  SpecWriter& flag(bool b) {
    out_ += b ? " 1" : " 0";
    return *this;
  }
  void end_line() { out_ += '\n'; }
  std::string finish() {
    out_ += "end\n";
    return std::move(out_);
  }

 private:
  std::string out_;
};

void write_process(SpecWriter& w, const ProcessSpec& p) {
  if (p.args.empty()) throw Error(ErrorKind::kInvalidArgument, "process has no args");
  for (const auto& a : p.args) w.key("arg").field(a).end_line();
  for (const auto& e : p.env) w.key("env").field(e).end_line();
  w.key("cwd").field(p.cwd.empty() ? "/" : p.cwd).end_line();
  w.key("user").number(p.uid).number(p.gid).end_line();
  if (!p.additional_gids.empty()) {
    w.key("additional_gids");
    for (uint32_t g : p.additional_gids) w.number(g);
    w.end_line();
  }
  w.key("terminal").flag(p.terminal).end_line();
  w.key("stdin").flag(p.stdin).end_line();
  w.key("stdin_once").flag(p.stdin_once).end_line();
  w.key("no_new_privs").flag(p.no_new_privs).end_line();
  w.key("cap_bounding").hex(p.cap_bounding).end_line();
  w.key("cap_effective").hex(p.cap_effective).end_line();
  w.key("cap_permitted").hex(p.cap_permitted).end_line();
  w.key("cap_inheritable").hex(p.cap_inheritable).end_line();
  w.key("cap_ambient").hex(p.cap_ambient).end_line();
  if (!p.seccomp_bpf_path.empty()) w.key("seccomp").field(p.seccomp_bpf_path).end_line();
  if (p.has_oom_score_adj) w.key("oom_score_adj").signed_number(p.oom_score_adj).end_line();
  for (const auto& r : p.rlimits) {
    w.key("rlimit").number(static_cast<uint32_t>(r.resource)).number(r.soft).number(r.hard);
    w.end_line();
  }
}

void write_namespace(SpecWriter& w, const char* kind, const NamespaceSpec& ns) {
  w.key("namespace").field(kind);
  switch (ns.mode) {
    case NamespaceMode::kHost: w.field("host"); break;
    case NamespaceMode::kNew: w.field("new"); break;
    case NamespaceMode::kJoin:
      if (ns.path.empty()) {
        throw Error(ErrorKind::kInvalidArgument, std::string("namespace ") + kind +
                                                     ": join without a path");
      }
      w.field("join").field(ns.path);
      break;
  }
  w.end_line();
}

}  // namespace

std::string escape_spec_field(const std::string& value) {
  if (value.empty()) return "-";
  if (value == "-") return "%2D";
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\0': throw Error(ErrorKind::kInvalidArgument, "spec string contains a NUL byte");
      case '%': out += "%25"; break;
      case ' ': out += "%20"; break;
      case '\t': out += "%09"; break;
      case '\n': out += "%0A"; break;
      case '\r': out += "%0D"; break;
      default: out += c;
    }
  }
  return out;
}

std::string encode_process_spec(const ProcessSpec& process) {
  SpecWriter w;
  write_process(w, process);
  return w.finish();
}

std::string encode_bundle_spec(const BundleSpec& spec) {
  if (spec.rootfs.empty()) throw Error(ErrorKind::kInvalidArgument, "bundle spec has no rootfs");
  if (spec.cgroup.mode == NamespaceMode::kJoin) {
    throw Error(ErrorKind::kInvalidArgument, "joining a cgroup namespace is not supported");
  }
  if (spec.user.mode == NamespaceMode::kNew) {
    throw Error(ErrorKind::kInvalidArgument, "the monitor only joins user namespaces (the pod's)");
  }
  SpecWriter w;
  write_process(w, spec.process);
  w.key("rootfs").field(spec.rootfs).end_line();
  w.key("readonly_rootfs").flag(spec.readonly_rootfs).end_line();
  if (!spec.rootfs_propagation.empty()) {
    w.key("rootfs_propagation").field(spec.rootfs_propagation).end_line();
  }
  write_namespace(w, "net", spec.net);
  write_namespace(w, "ipc", spec.ipc);
  write_namespace(w, "uts", spec.uts);
  write_namespace(w, "pid", spec.pid);
  write_namespace(w, "cgroup", spec.cgroup);
  if (spec.user.mode == NamespaceMode::kJoin) write_namespace(w, "user", spec.user);
  if (!spec.hostname.empty()) w.key("hostname").field(spec.hostname).end_line();
  for (const auto& m : spec.mounts) {
    if (m.destination.empty() || m.destination[0] != '/') {
      throw Error(ErrorKind::kInvalidArgument,
                  "mount destination must be absolute: \"" + m.destination + "\"");
    }
    std::string known, data;
    for (const auto& o : m.options) {
      MountOptionEffect effect;
      std::string& list = lookup_mount_option(o.data(), o.size(), &effect) ? known : data;
      if (!list.empty()) list += ',';
      list += o;
    }
    if (!m.data.empty()) {
      if (!data.empty()) data += ',';
      data += m.data;
    }
    w.key("mount").field(m.destination).field(m.type).field(m.source).field(known).field(data);
    w.end_line();
  }
  w.key("default_devices").flag(spec.default_devices).end_line();
  for (const auto& d : spec.devices) {
    if (d.type != 'c' && d.type != 'b') {
      throw Error(ErrorKind::kInvalidArgument, "device " + d.path + ": type must be c or b");
    }
    w.key("device").field(d.path).field(std::string(1, d.type)).number(d.major).number(d.minor);
    w.octal(d.mode & 07777).number(d.uid).number(d.gid).end_line();
  }
  for (const auto& p : spec.masked_paths) w.key("masked_path").field(p).end_line();
  for (const auto& p : spec.readonly_paths) w.key("readonly_path").field(p).end_line();
  for (const auto& p : spec.cgroup_procs) w.key("cgroup_procs").field(p).end_line();
  w.key("log_path").field(spec.log_path).end_line();
  w.key("log_max_line").number(spec.log_max_line).end_line();
  if (!spec.exit_file.empty()) w.key("exit_file").field(spec.exit_file).end_line();
  if (!spec.pid_file.empty()) w.key("pid_file").field(spec.pid_file).end_line();
  if (!spec.control_socket.empty()) w.key("control_socket").field(spec.control_socket).end_line();
  return w.finish();
}

}  // namespace crisp::monitor
