#pragma once
// The monitor's reader of the bundle spec (format: spec.h). Built for a tiny static binary: no
// exceptions, no STL containers. The parser decodes the text in place (strings point into the
// caller's buffer, which must outlive the result) and makes one calloc for all arrays.
#include <stddef.h>
#include <stdint.h>

namespace crisp::monitor {

enum ParsedNsMode : uint8_t { kNsHost = 0, kNsNew = 1, kNsJoin = 2 };

struct ParsedNamespace {
  ParsedNsMode mode;
  const char* path;  // kNsJoin only
};

struct ParsedRlimit {
  int resource;
  uint64_t soft, hard;
};

struct ParsedMount {
  const char* destination;
  const char* type;    // nullptr when "-"
  const char* source;  // nullptr when "-"
  const char* data;    // unknown options joined with the data field; nullptr when empty
  unsigned long flags;        // MS_* for the mount itself (MS_BIND, MS_RDONLY, MS_NOSUID ...)
  unsigned long clear_flags;  // MS_* explicitly turned off ("rw", "suid", ...)
  unsigned long propagation;  // MS_PRIVATE/MS_SLAVE/MS_SHARED/MS_UNBINDABLE (| MS_REC), or 0
  bool recursive_readonly;    // "rro": mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)
  bool idmap;                 // "idmap": idmapped with the container's user namespace (binds)
};

struct ParsedDevice {
  const char* path;
  uint32_t mode;  // S_IFCHR/S_IFBLK | permission bits
  uint32_t major, minor, uid, gid;
};

struct ParsedProcess {
  char** args;  // nullptr-terminated
  uint32_t arg_count;
  char** env;  // nullptr-terminated
  uint32_t env_count;
  const char* cwd;
  uint32_t uid, gid;
  uint32_t* additional_gids;
  uint32_t additional_gid_count;
  bool terminal, stdin, stdin_once, no_new_privs;
  uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
  const char* seccomp_bpf_path;  // nullptr = none
  bool has_oom_score_adj;
  int oom_score_adj;
  ParsedRlimit* rlimits;
  uint32_t rlimit_count;
};

struct ParsedSpec {
  ParsedProcess process;
  const char* rootfs;
  bool readonly_rootfs;
  unsigned long rootfs_propagation;  // MS_SLAVE|MS_REC by default
  ParsedNamespace net, ipc, uts, pid, cgroup;
  ParsedNamespace user;  // kNsHost or kNsJoin
  const char* hostname;  // nullptr = leave alone
  ParsedMount* mounts;
  uint32_t mount_count;
  bool default_devices;
  ParsedDevice* devices;
  uint32_t device_count;
  const char** masked_paths;
  uint32_t masked_path_count;
  const char** readonly_paths;
  uint32_t readonly_path_count;
  const char** cgroup_procs;
  uint32_t cgroup_procs_count;
  const char* log_path;  // nullptr = discard
  uint32_t log_max_line;
  const char* exit_file;       // nullptr = default in the bundle dir
  const char* pid_file;        // idem
  const char* control_socket;  // idem
};

// Parses a whole spec held in buf[0..len) (buf[len] must be writable; it becomes NUL). On error
// returns false and writes a message naming the line into err. With process_only, container
// keys are rejected (the exec --spec file). The arrays live in one calloc block (never freed by
// the monitor: they live as long as the process).
bool parse_spec(char* buf, size_t len, bool process_only, ParsedSpec* out, char* err,
                size_t err_size);

// One OCI mount option name: what it does. Returns false for an unknown name (a filesystem option
// such as "mode=755", which belongs in the data string).
struct MountOptionEffect {
  unsigned long set_flags;
  unsigned long clear_flags;
  unsigned long propagation;
  bool recursive_readonly;
  bool idmap;
};
bool lookup_mount_option(const char* name, size_t len, MountOptionEffect* effect);

// Decodes a percent-escaped field in place ("-" becomes ""); false if malformed.
bool unescape_spec_field(char* field);

}  // namespace crisp::monitor
