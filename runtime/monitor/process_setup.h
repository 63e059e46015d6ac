#pragma once
// The last steps before a container process execs, shared by `run` (the container init) and
// `exec`: resource limits, user and groups, capabilities, no_new_privs, seccomp, cwd, fd hygiene
// and the PATH lookup. Everything runs in the forked child: no allocation, errors go into a
// ChildError that the caller sends to the monitor.
#include <linux/filter.h>
#include <stddef.h>

#include "runtime/monitor/spec_parse.h"

namespace crisp::monitor {

struct ChildError {
  int exit_code = 126;  // 126 = could not run, 127 = not found (exec mode's exit status)
  char message[512] = {};
};

// Fills err from a printf format plus ": strerror(errno)"; always returns false.
bool child_fail_errno(ChildError* err, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
bool child_fail(ChildError* err, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// A precompiled seccomp filter (the file written by seccomp_export_bpf()), read in the parent.
struct SeccompProgram {
  struct sock_filter* filter = nullptr;
  unsigned short length = 0;
};
// Reads the BPF file; false with err filled on failure.
bool load_seccomp_program(const char* path, SeccompProgram* out, ChildError* err);

// Unblocks all signals and restores default dispositions (the monitor blocks and ignores some).
void reset_signals();
// Writes /proc/self/oom_score_adj; a refusal is only logged to the monitor's stderr.
void apply_oom_score_adj(const ParsedProcess& p);
bool apply_rlimits(const ParsedProcess& p, ChildError* err);
// Then, in this order: seccomp (when no_new_privs is off: it needs CAP_SYS_ADMIN), bounding set,
// groups/gid/uid, capabilities, ambient caps, no_new_privs, seccomp (when no_new_privs is on),
// chdir(cwd), umask 022, every fd above 2 marked close-on-exec. Returns false on error.
bool finish_process_setup(const ParsedProcess& p, const SeccompProgram& seccomp, ChildError* err);
// Execs args[0] (looked up in the env's PATH when it has no '/'); returns only on failure.
void exec_process(const ParsedProcess& p, ChildError* err);

}  // namespace crisp::monitor
