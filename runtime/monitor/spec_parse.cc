#include "runtime/monitor/spec_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

namespace crisp::monitor {

namespace {

struct OptionEntry {
  const char* name;
  MountOptionEffect effect;
};

// OCI runtime-spec mount options (the names runc/crun understand), see mount(8).
const OptionEntry kMountOptions[] = {
    {"defaults", {0, 0, 0, false, false}},
    {"ro", {MS_RDONLY, 0, 0, false, false}},
    {"rw", {0, MS_RDONLY, 0, false, false}},
    {"nosuid", {MS_NOSUID, 0, 0, false, false}},
    {"suid", {0, MS_NOSUID, 0, false, false}},
    {"nodev", {MS_NODEV, 0, 0, false, false}},
    {"dev", {0, MS_NODEV, 0, false, false}},
    {"noexec", {MS_NOEXEC, 0, 0, false, false}},
    {"exec", {0, MS_NOEXEC, 0, false, false}},
    {"sync", {MS_SYNCHRONOUS, 0, 0, false, false}},
    {"async", {0, MS_SYNCHRONOUS, 0, false, false}},
    {"dirsync", {MS_DIRSYNC, 0, 0, false, false}},
    {"remount", {MS_REMOUNT, 0, 0, false, false}},
    {"mand", {MS_MANDLOCK, 0, 0, false, false}},
    {"nomand", {0, MS_MANDLOCK, 0, false, false}},
    {"atime", {0, MS_NOATIME, 0, false, false}},
    {"noatime", {MS_NOATIME, 0, 0, false, false}},
    {"diratime", {0, MS_NODIRATIME, 0, false, false}},
    {"nodiratime", {MS_NODIRATIME, 0, 0, false, false}},
    {"relatime", {MS_RELATIME, 0, 0, false, false}},
    {"norelatime", {0, MS_RELATIME, 0, false, false}},
    {"strictatime", {MS_STRICTATIME, 0, 0, false, false}},
    {"nostrictatime", {0, MS_STRICTATIME, 0, false, false}},
    {"bind", {MS_BIND, 0, 0, false, false}},
    {"rbind", {MS_BIND | MS_REC, 0, 0, false, false}},
    {"rro", {MS_RDONLY, 0, 0, true, false}},
    {"private", {0, 0, MS_PRIVATE, false, false}},
    {"rprivate", {0, 0, MS_PRIVATE | MS_REC, false, false}},
    {"slave", {0, 0, MS_SLAVE, false, false}},
    {"rslave", {0, 0, MS_SLAVE | MS_REC, false, false}},
    {"shared", {0, 0, MS_SHARED, false, false}},
    {"rshared", {0, 0, MS_SHARED | MS_REC, false, false}},
    {"unbindable", {0, 0, MS_UNBINDABLE, false, false}},
    {"runbindable", {0, 0, MS_UNBINDABLE | MS_REC, false, false}},
    {"idmap", {0, 0, 0, false, true}},
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

enum Key {
  kKeyUnknown,
  kArg, kEnv, kCwd, kUser, kAdditionalGids, kTerminal, kStdin, kStdinOnce, kNoNewPrivs,
  kCapBounding, kCapEffective, kCapPermitted, kCapInheritable, kCapAmbient, kSeccomp,
  kOomScoreAdj, kRlimit,
  kFirstContainerKey,
  kRootfs = kFirstContainerKey, kReadonlyRootfs, kRootfsPropagation, kNamespace, kHostname,
  kMount, kDefaultDevices, kDevice, kMaskedPath, kReadonlyPath, kCgroupProcs, kLogPath,
  kLogMaxLine, kExitFile, kPidFile, kControlSocket, kEnd,
};

struct KeyName {
  const char* name;
  Key key;
};

const KeyName kKeys[] = {
    {"arg", kArg}, {"env", kEnv}, {"cwd", kCwd}, {"user", kUser},
    {"additional_gids", kAdditionalGids}, {"terminal", kTerminal}, {"stdin", kStdin},
    {"stdin_once", kStdinOnce}, {"no_new_privs", kNoNewPrivs}, {"cap_bounding", kCapBounding},
    {"cap_effective", kCapEffective}, {"cap_permitted", kCapPermitted},
    {"cap_inheritable", kCapInheritable}, {"cap_ambient", kCapAmbient}, {"seccomp", kSeccomp},
    {"oom_score_adj", kOomScoreAdj}, {"rlimit", kRlimit}, {"rootfs", kRootfs},
    {"readonly_rootfs", kReadonlyRootfs}, {"rootfs_propagation", kRootfsPropagation},
    {"namespace", kNamespace}, {"hostname", kHostname}, {"mount", kMount},
    {"default_devices", kDefaultDevices}, {"device", kDevice}, {"masked_path", kMaskedPath},
    {"readonly_path", kReadonlyPath}, {"cgroup_procs", kCgroupProcs}, {"log_path", kLogPath},
    {"log_max_line", kLogMaxLine}, {"exit_file", kExitFile}, {"pid_file", kPidFile},
    {"control_socket", kControlSocket}, {"end", kEnd},
};

Key key_of(const char* name, size_t len) {
  for (const KeyName& k : kKeys) {
    if (strlen(k.name) == len && memcmp(k.name, name, len) == 0) return k.key;
  }
  return kKeyUnknown;
}

bool parse_u64(const char* s, int base, uint64_t* out) {
  if (*s == '\0' || *s == '-') return false;
  char* end = nullptr;
  unsigned long long v = strtoull(s, &end, base);
  if (*end != '\0') return false;
  *out = v;
  return true;
}

bool parse_u32(const char* s, int base, uint32_t* out) {
  uint64_t v;
  if (!parse_u64(s, base, &v) || v > 0xffffffffULL) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

bool parse_bool(const char* s, bool* out) {
  if (strcmp(s, "1") == 0) {
    *out = true;
  } else if (strcmp(s, "0") == 0) {
    *out = false;
  } else {
    return false;
  }
  return true;
}

const char* or_null(const char* s) { return *s ? s : nullptr; }

// Turns "options" (comma list) + "data" into flags; unknown options are prepended to data.
bool parse_mount_options(char* options, const char* data, ParsedMount* m) {
  size_t data_len = strlen(data);
  size_t unknown_len = 0;
  char* p = options;
  // First pass: flags; compact unknown options at the start of `options` (in place).
  char* unknown = options;
  while (*p) {
    char* comma = strchr(p, ',');
    size_t len = comma ? static_cast<size_t>(comma - p) : strlen(p);
    MountOptionEffect effect;
    if (len == 0) {
      // empty item: skip
    } else if (lookup_mount_option(p, len, &effect)) {
      m->flags = (m->flags & ~effect.clear_flags) | effect.set_flags;
      m->clear_flags = (m->clear_flags & ~effect.set_flags) | effect.clear_flags;
      if (effect.propagation) m->propagation = effect.propagation;
      if (effect.recursive_readonly) m->recursive_readonly = true;
      if (effect.idmap) m->idmap = true;
    } else {
      if (unknown_len) unknown[unknown_len++] = ',';
      memmove(unknown + unknown_len, p, len);
      unknown_len += len;
    }
    p += len;
    if (*p == ',') ++p;
  }
  if (unknown_len == 0) {
    m->data = data_len ? data : nullptr;
    return true;
  }
  unknown[unknown_len] = '\0';
  if (data_len == 0) {
    m->data = unknown;
    return true;
  }
  char* joined = static_cast<char*>(malloc(unknown_len + 1 + data_len + 1));
  if (!joined) return false;
  memcpy(joined, unknown, unknown_len);
  joined[unknown_len] = ',';
  memcpy(joined + unknown_len + 1, data, data_len + 1);
  m->data = joined;
  return true;
}

}  // namespace

bool lookup_mount_option(const char* name, size_t len, MountOptionEffect* effect) {
  for (const OptionEntry& e : kMountOptions) {
    if (strlen(e.name) == len && memcmp(e.name, name, len) == 0) {
      *effect = e.effect;
      return true;
    }
  }
  return false;
}

bool unescape_spec_field(char* field) {
  if (field[0] == '-' && field[1] == '\0') {
    field[0] = '\0';
    return true;
  }
  char* out = field;
  for (char* in = field; *in; ++in) {
    if (*in != '%') {
      *out++ = *in;
      continue;
    }
    int hi = hex_value(in[1]);
    int lo = hi < 0 ? -1 : hex_value(in[2]);
    if (lo < 0) return false;
    char c = static_cast<char>(hi * 16 + lo);
    if (c == '\0') return false;
    *out++ = c;
    in += 2;
  }
  *out = '\0';
  return true;
}

bool parse_spec(char* buf, size_t len, bool process_only, ParsedSpec* out, char* err,
                size_t err_size) {
  memset(out, 0, sizeof(*out));
  if (err_size) err[0] = '\0';
  buf[len] = '\0';
  if (strlen(buf) != len) {
    snprintf(err, err_size, "spec contains a NUL byte");
    return false;
  }
  static const char kHeader[] = "crisp-spec ";
  if (strncmp(buf, kHeader, sizeof(kHeader) - 1) != 0) {
    snprintf(err, err_size, "not a crisp spec (missing \"crisp-spec <version>\" header)");
    return false;
  }
  if (strtol(buf + sizeof(kHeader) - 1, nullptr, 10) != 1) {
    snprintf(err, err_size, "unsupported spec version (this monitor reads version 1)");
    return false;
  }

  // Pass 1: count repeated records to size the arrays.
  size_t n_args = 0, n_env = 0, n_gids = 0, n_rlimits = 0, n_mounts = 0, n_devices = 0,
         n_masked = 0, n_ro = 0, n_cgroups = 0;
  for (char* line = buf; line && *line;) {
    char* nl = strchr(line, '\n');
    size_t line_len = nl ? static_cast<size_t>(nl - line) : strlen(line);
    size_t key_len = strcspn(line, " \n");
    switch (key_of(line, key_len)) {
      case kArg: ++n_args; break;
      case kEnv: ++n_env; break;
      case kAdditionalGids:
        for (size_t i = key_len; i < line_len; ++i) n_gids += line[i] == ' ';
        break;
      case kRlimit: ++n_rlimits; break;
      case kMount: ++n_mounts; break;
      case kDevice: ++n_devices; break;
      case kMaskedPath: ++n_masked; break;
      case kReadonlyPath: ++n_ro; break;
      case kCgroupProcs: ++n_cgroups; break;
      default: break;
    }
    line = nl ? nl + 1 : nullptr;
  }
  size_t bytes = (n_args + 1 + n_env + 1) * sizeof(char*) + n_gids * sizeof(uint32_t) +
                 n_rlimits * sizeof(ParsedRlimit) + n_mounts * sizeof(ParsedMount) +
                 n_devices * sizeof(ParsedDevice) + (n_masked + n_ro + n_cgroups) * sizeof(char*);
  // Order by alignment: 8-byte members first.
  char* block = static_cast<char*>(calloc(1, bytes + 16));
  if (!block) {
    snprintf(err, err_size, "out of memory");
    return false;
  }
  ParsedProcess& proc = out->process;
  proc.args = reinterpret_cast<char**>(block);
  proc.env = proc.args + n_args + 1;
  out->masked_paths = const_cast<const char**>(proc.env + n_env + 1);
  out->readonly_paths = out->masked_paths + n_masked;
  out->cgroup_procs = out->readonly_paths + n_ro;
  proc.rlimits = reinterpret_cast<ParsedRlimit*>(out->cgroup_procs + n_cgroups);
  out->mounts = reinterpret_cast<ParsedMount*>(proc.rlimits + n_rlimits);
  out->devices = reinterpret_cast<ParsedDevice*>(out->mounts + n_mounts);
  proc.additional_gids = reinterpret_cast<uint32_t*>(out->devices + n_devices);

  proc.cwd = "/";
  proc.no_new_privs = false;
  out->rootfs_propagation = MS_SLAVE | MS_REC;
  out->default_devices = false;
  out->log_max_line = 16384;

  // Pass 2: split each line into fields and fill the result.
  bool saw_end = false;
  int line_no = 1;
  char* line = strchr(buf, '\n');
  line = line ? line + 1 : nullptr;
  while (line && *line) {
    ++line_no;
    char* nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    char* next = nl ? nl + 1 : nullptr;
    if (saw_end) {
      snprintf(err, err_size, "spec line %d: data after \"end\"", line_no);
      return false;
    }
    enum { kMaxFields = 8 };
    char* f[kMaxFields + 1] = {};
    int nf = 0;
    bool too_many = false;
    for (char* p = line; p;) {
      if (nf == kMaxFields) {
        too_many = true;
        break;
      }
      f[nf++] = p;
      char* sp = strchr(p, ' ');
      if (sp) *sp = '\0';
      p = sp ? sp + 1 : nullptr;
    }
    Key key = key_of(f[0], strlen(f[0]));
    if (key != kAdditionalGids && too_many) {
      snprintf(err, err_size, "spec line %d: too many fields", line_no);
      return false;
    }
    for (int i = 1; i < nf; ++i) {
      if (!unescape_spec_field(f[i])) {
        snprintf(err, err_size, "spec line %d: bad escape in field %d", line_no, i);
        return false;
      }
    }
    if (key == kKeyUnknown) {
      snprintf(err, err_size, "spec line %d: unknown key \"%.64s\"", line_no, f[0]);
      return false;
    }
    if (process_only && key >= kFirstContainerKey && key != kEnd) {
      snprintf(err, err_size, "spec line %d: \"%s\" is not a process key", line_no, f[0]);
      return false;
    }
    auto need = [&](int fields) {
      if (nf == fields + 1) return true;
      snprintf(err, err_size, "spec line %d: \"%s\" takes %d field(s), got %d", line_no, f[0],
               fields, nf - 1);
      return false;
    };
    auto bad = [&](const char* what) {
      snprintf(err, err_size, "spec line %d: bad %s in \"%s\"", line_no, what, f[0]);
      return false;
    };
    bool ok = true;
    switch (key) {
      case kArg:
        if (!need(1)) return false;
        proc.args[proc.arg_count++] = f[1];
        break;
      case kEnv:
        if (!need(1)) return false;
        proc.env[proc.env_count++] = f[1];
        break;
      case kCwd:
        if (!need(1)) return false;
        proc.cwd = f[1];
        break;
      case kUser:
        if (!need(2)) return false;
        if (!parse_u32(f[1], 10, &proc.uid) || !parse_u32(f[2], 10, &proc.gid)) return bad("id");
        break;
      case kAdditionalGids: {
        // Fields beyond kMaxFields are still in the line (split lazily here).
        char* rest = too_many ? f[kMaxFields - 1] + strlen(f[kMaxFields - 1]) + 1 : nullptr;
        for (int i = 1; i < nf; ++i) {
          if (!parse_u32(f[i], 10, &proc.additional_gids[proc.additional_gid_count++]))
            return bad("gid");
        }
        while (rest && *rest) {
          char* sp = strchr(rest, ' ');
          if (sp) *sp = '\0';
          if (!parse_u32(rest, 10, &proc.additional_gids[proc.additional_gid_count++]))
            return bad("gid");
          rest = sp ? sp + 1 : nullptr;
        }
        break;
      }
      case kTerminal: ok = need(1) && parse_bool(f[1], &proc.terminal); break;
      case kStdin: ok = need(1) && parse_bool(f[1], &proc.stdin); break;
      case kStdinOnce: ok = need(1) && parse_bool(f[1], &proc.stdin_once); break;
      case kNoNewPrivs: ok = need(1) && parse_bool(f[1], &proc.no_new_privs); break;
      case kCapBounding: ok = need(1) && parse_u64(f[1], 16, &proc.cap_bounding); break;
      case kCapEffective: ok = need(1) && parse_u64(f[1], 16, &proc.cap_effective); break;
      case kCapPermitted: ok = need(1) && parse_u64(f[1], 16, &proc.cap_permitted); break;
      case kCapInheritable: ok = need(1) && parse_u64(f[1], 16, &proc.cap_inheritable); break;
      case kCapAmbient: ok = need(1) && parse_u64(f[1], 16, &proc.cap_ambient); break;
      case kSeccomp:
        if (!need(1)) return false;
        proc.seccomp_bpf_path = or_null(f[1]);
        break;
      case kOomScoreAdj: {
        if (!need(1)) return false;
        char* end = nullptr;
        long v = strtol(f[1], &end, 10);
        if (*f[1] == '\0' || *end || v < -1000 || v > 1000) return bad("value");
        proc.has_oom_score_adj = true;
        proc.oom_score_adj = static_cast<int>(v);
        break;
      }
      case kRlimit: {
        if (!need(3)) return false;
        ParsedRlimit& r = proc.rlimits[proc.rlimit_count++];
        uint32_t res;
        if (!parse_u32(f[1], 10, &res) || !parse_u64(f[2], 10, &r.soft) ||
            !parse_u64(f[3], 10, &r.hard))
          return bad("number");
        r.resource = static_cast<int>(res);
        break;
      }
      case kRootfs:
        if (!need(1)) return false;
        out->rootfs = f[1];
        break;
      case kReadonlyRootfs: ok = need(1) && parse_bool(f[1], &out->readonly_rootfs); break;
      case kRootfsPropagation: {
        if (!need(1)) return false;
        MountOptionEffect e;
        if (!lookup_mount_option(f[1], strlen(f[1]), &e) || !e.propagation)
          return bad("propagation");
        out->rootfs_propagation = e.propagation;
        break;
      }
      case kNamespace: {
        if (nf < 3) return need(2);
        ParsedNamespace* ns = nullptr;
        if (strcmp(f[1], "net") == 0) ns = &out->net;
        else if (strcmp(f[1], "ipc") == 0) ns = &out->ipc;
        else if (strcmp(f[1], "uts") == 0) ns = &out->uts;
        else if (strcmp(f[1], "pid") == 0) ns = &out->pid;
        else if (strcmp(f[1], "cgroup") == 0) ns = &out->cgroup;
        else if (strcmp(f[1], "user") == 0) ns = &out->user;
        if (!ns) return bad("namespace kind");
        if (ns == &out->user && strcmp(f[2], "new") == 0) return bad("namespace mode (user: join or host)");
        if (strcmp(f[2], "new") == 0 && nf == 3) {
          ns->mode = kNsNew;
        } else if (strcmp(f[2], "host") == 0 && nf == 3) {
          ns->mode = kNsHost;
        } else if (strcmp(f[2], "join") == 0 && nf == 4 && *f[3] && ns != &out->cgroup) {
          ns->mode = kNsJoin;
          ns->path = f[3];
        } else {
          return bad("namespace mode");
        }
        break;
      }
      case kHostname:
        if (!need(1)) return false;
        out->hostname = or_null(f[1]);
        break;
      case kMount: {
        if (!need(5)) return false;
        ParsedMount& m = out->mounts[out->mount_count++];
        if (f[1][0] != '/') return bad("destination (must be absolute)");
        m.destination = f[1];
        m.type = or_null(f[2]);
        m.source = or_null(f[3]);
        if (!parse_mount_options(f[4], f[5], &m)) return bad("options");
        if (m.type && (strcmp(m.type, "bind") == 0 || strcmp(m.type, "rbind") == 0)) {
          m.flags |= MS_BIND | (m.type[0] == 'r' ? MS_REC : 0);
        }
        break;
      }
      case kDefaultDevices: ok = need(1) && parse_bool(f[1], &out->default_devices); break;
      case kDevice: {
        if (!need(7)) return false;
        ParsedDevice& d = out->devices[out->device_count++];
        if (f[1][0] != '/') return bad("path (must be absolute)");
        d.path = f[1];
        uint32_t perm;
        if (strcmp(f[2], "c") == 0 || strcmp(f[2], "u") == 0) d.mode = S_IFCHR;
        else if (strcmp(f[2], "b") == 0) d.mode = S_IFBLK;
        else return bad("device type");
        if (!parse_u32(f[3], 10, &d.major) || !parse_u32(f[4], 10, &d.minor) ||
            !parse_u32(f[5], 8, &perm) || !parse_u32(f[6], 10, &d.uid) ||
            !parse_u32(f[7], 10, &d.gid))
          return bad("number");
        d.mode |= perm & 07777;
        break;
      }
      case kMaskedPath:
        if (!need(1)) return false;
        out->masked_paths[out->masked_path_count++] = f[1];
        break;
      case kReadonlyPath:
        if (!need(1)) return false;
        out->readonly_paths[out->readonly_path_count++] = f[1];
        break;
      case kCgroupProcs:
        if (!need(1)) return false;
        out->cgroup_procs[out->cgroup_procs_count++] = f[1];
        break;
      case kLogPath:
        if (!need(1)) return false;
        out->log_path = or_null(f[1]);
        break;
      case kLogMaxLine: {
        uint32_t v;
        if (!need(1)) return false;
        if (!parse_u32(f[1], 10, &v) || v < 64) return bad("size (minimum 64)");
        out->log_max_line = v;
        break;
      }
      case kExitFile:
        if (!need(1)) return false;
        out->exit_file = or_null(f[1]);
        break;
      case kPidFile:
        if (!need(1)) return false;
        out->pid_file = or_null(f[1]);
        break;
      case kControlSocket:
        if (!need(1)) return false;
        out->control_socket = or_null(f[1]);
        break;
      case kEnd:
        if (!need(0)) return false;
        saw_end = true;
        break;
      case kKeyUnknown:
        break;
    }
    if (!ok) {
      if (err[0] == '\0') bad("value");
      return false;
    }
    line = next;
  }
  if (!saw_end) {
    snprintf(err, err_size, "spec is truncated (no \"end\" line)");
    return false;
  }
  if (proc.arg_count == 0) {
    snprintf(err, err_size, "spec has no \"arg\" (empty command)");
    return false;
  }
  if (!process_only && !out->rootfs) {
    snprintf(err, err_size, "spec has no \"rootfs\"");
    return false;
  }
  return true;
}

}  // namespace crisp::monitor
