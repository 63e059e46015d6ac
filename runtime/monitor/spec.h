#pragma once
// The bundle spec: what crispd tells crisp-monitor about one container (or, for `crisp-monitor
// exec`, about one process). crispd fills a BundleSpec and writes it with encode_bundle_spec() to
// <bundle>/spec (see protocol.h); the monitor reads it with its own allocation-light parser
// (spec_parse.h), so nothing here is linked into the monitor.
//
// Text encoding, version 1 (one record per line, fields separated by one space):
//   crisp-spec 1                      first line; the version
//   <key> <field> [<field>...]        any number of records, order matters for repeated keys
//   end                               last line; a spec without it is truncated and rejected
// Every field is percent-escaped: '%', ' ', '\t', '\n', '\r' become %25 %20 %09 %0A %0D; an empty
// field is written "-" (a literal "-" is written "%2D"). Numbers are decimal, capability masks
// hexadecimal ("0x..."), file modes octal ("0666").
//
// Process keys (also the whole content of an exec process spec):
//   arg <s>                  one per argv element, in order (at least one)
//   env <NAME=value>         one per variable
//   cwd <path>               working directory inside the container (default "/")
//   user <uid> <gid>
//   additional_gids [<gid>...]
//   terminal 0|1  stdin 0|1  stdin_once 0|1  no_new_privs 0|1
//   cap_bounding|cap_effective|cap_permitted|cap_inheritable|cap_ambient <hex mask>
//                            bit n = capability n (CAP_CHOWN = bit 0); missing key = 0
//   seccomp <path>           BPF program written by seccomp_export_bpf(); attached as is
//   oom_score_adj <n>        best effort: a refusal is logged, never fatal
//   rlimit <resource> <soft> <hard>   resource = RLIMIT_* number; 18446744073709551615 = infinity
// Container keys:
//   rootfs <path>            already mounted by crispd
//   readonly_rootfs 0|1
//   rootfs_propagation <rslave|rprivate|rshared|slave|private|shared>   default rslave
//                            (the propagation of the container's "/" tree; pivot_root refuses a
//                            shared parent, so "rshared" works only if the rootfs' parent mount
//                            is not shared)
//   namespace <net|ipc|uts|pid|cgroup> new|host|join <path>   mount ns is always new; missing
//                            key = "host" (cgroup: "host"; joining a cgroup ns is not supported)
//   namespace user join <path>   the pod's user namespace (written only when joined; "host"
//                            otherwise). The container's mount, pid and cgroup namespaces are then
//                            created inside it, its net/ipc/uts namespaces must be owned by it, and
//                            every bind mount is cloned by the monitor (open_tree) as host root.
//   hostname <name>          set only when the uts namespace is "new"
//   mount <destination> <type> <source> <options> <data>
//                            options: comma-separated OCI names (see spec_parse.h for the list,
//                            including propagation names); data: fs-specific string ("-" = none).
//                            "idmap" on a bind: the mount is idmapped with the user namespace
//                            (mount_setattr MOUNT_ATTR_IDMAP; recursive with rbind)
//   default_devices 0|1      create null zero full random urandom tty, /dev/ptmx, fd/std* links
//   device <path> <c|b> <major> <minor> <mode octal> <uid> <gid>
//   masked_path <path>       /dev/null bound over files, empty read-only tmpfs over directories
//   readonly_path <path>
//   cgroup_procs <path>      a cgroup.procs (or tasks) file the container init joins
//   log_path <path>          CRI log file on the host ("-" = discard output)
//   log_max_line <bytes>     default 16384
//   exit_file <path>  pid_file <path>  control_socket <path>   defaults: in the bundle dir
#include <cstdint>
#include <string>
#include <vector>

namespace crisp::monitor {

inline constexpr int kSpecVersion = 1;
inline constexpr uint32_t kDefaultLogMaxLine = 16384;

// A resource limit (setrlimit); resource is an RLIMIT_* constant.
struct Rlimit {
  int resource = 0;
  uint64_t soft = 0;
  uint64_t hard = 0;
};

struct ProcessSpec {
  std::vector<std::string> args;  // argv; args[0] is looked up in the container's PATH
  std::vector<std::string> env;   // "NAME=value"
  std::string cwd = "/";
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
  bool terminal = false;
  bool stdin = false;
  bool stdin_once = false;
  bool no_new_privs = true;
  uint64_t cap_bounding = 0;
  uint64_t cap_effective = 0;
  uint64_t cap_permitted = 0;
  uint64_t cap_inheritable = 0;
  uint64_t cap_ambient = 0;
  std::string seccomp_bpf_path;  // empty = no filter
  bool has_oom_score_adj = false;
  int oom_score_adj = 0;
  std::vector<Rlimit> rlimits;
};

enum class NamespaceMode { kHost, kNew, kJoin };

struct NamespaceSpec {
  NamespaceMode mode = NamespaceMode::kHost;
  std::string path;  // for kJoin: e.g. /run/crisp/sandboxes/<id>/ns/net or /proc/<pid>/ns/pid
};

struct MountSpec {
  std::string destination;           // absolute path inside the rootfs
  std::string type;                  // "proc", "tmpfs", "bind", ...
  std::string source;                // host path for binds
  std::vector<std::string> options;  // OCI names: ro, nosuid, rbind, rprivate, rro, mode=755 ...
  std::string data;                  // extra fs data, joined after unknown options
};

struct DeviceSpec {
  std::string path;  // absolute path inside the container, e.g. /dev/fuse
  char type = 'c';   // 'c' or 'b'
  uint32_t major = 0;
  uint32_t minor = 0;
  uint32_t mode = 0666;  // permission bits
  uint32_t uid = 0;
  uint32_t gid = 0;
};

struct BundleSpec {
  ProcessSpec process;
  std::string rootfs;
  bool readonly_rootfs = false;
  std::string rootfs_propagation = "rslave";
  NamespaceSpec net, ipc, uts, pid, cgroup;  // cgroup: kHost or kNew only
  NamespaceSpec user;                        // kHost or kJoin only
  std::string hostname;
  std::vector<MountSpec> mounts;
  bool default_devices = true;
  std::vector<DeviceSpec> devices;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::vector<std::string> cgroup_procs;
  std::string log_path;  // empty = discard
  uint32_t log_max_line = kDefaultLogMaxLine;
  std::string exit_file;       // empty = <bundle>/exit
  std::string pid_file;        // empty = <bundle>/pid
  std::string control_socket;  // empty = <bundle>/control.sock
};

// Encodes a container's spec (the <bundle>/spec file). Mount options the monitor does not know
// (e.g. "mode=755", "size=64m") are moved into the data field, OCI-style. Throws crisp::Error
// (kInvalidArgument) for an empty args list or a string containing a NUL byte.
std::string encode_bundle_spec(const BundleSpec& spec);
// Encodes only a process (the --spec file of `crisp-monitor exec`).
std::string encode_process_spec(const ProcessSpec& process);

// Percent-escaping of one field (exposed for tests).
std::string escape_spec_field(const std::string& value);

}  // namespace crisp::monitor
