#pragma once
// How crispd talks to crisp-monitor: the bundle layout, the launch handshake, the files the
// monitor leaves behind and the control socket. Small readers/clients for crispd are here too
// (library crisp_monitor_client; the monitor binary itself does not link it).
//
// Bundle directory (crispd creates it; default /run/crisp/containers/<id>/):
//   spec           the BundleSpec (spec.h), written by crispd before the launch
//   rootfs/        typically the overlay rootfs (crispd mounts it; the spec names it)
//   pid            written by the monitor once the container has exec'd (temp + rename; no
//                  fsync: it is on the start path and means nothing after a power loss)
//   exit           written by the monitor when the container has exited (temp + fsync + rename)
//   control.sock   the monitor's control socket (exists while the monitor runs)
//
// Launch ("run"):  crisp-monitor run <absolute-bundle-dir> --sync-fd <n>
//   crispd passes the write end of a pipe as fd n (not CLOEXEC in the child), /dev/null as stdin
//   and stdout, and a log file (or /dev/null) as stderr for the monitor's own diagnostics. It
//   must close its copy of the write end after spawning. The launched process forks the real
//   monitor and exits at once (status 0; non-zero only when even that failed), so crispd waitpid()s
//   it right away and never has the monitor as a child: the monitor is reparented to init (or
//   crispd's subreaper, if crispd set one — it should not), calls setsid(), and survives crispd.
//   On the sync fd the monitor then writes exactly one line and closes it:
//     "started <container-pid> <start-time-ticks>\n"   the container process has exec'd
//     "error <message>\n"                              nothing is running; the bundle's exit
//                                                      file is not written
//   EOF without a line means the monitor died. A monitor refuses to start ("error a monitor is
//   already running ...") while another one answers on the bundle's control socket; otherwise it
//   removes stale pid/exit files of an earlier run before starting the container.
//   The <start-time-ticks> is field 22 of /proc/<pid>/stat (clock ticks since boot); a pid with a
//   different start time is another process (pid reuse).
//
// Control socket: SOCK_STREAM unix socket. A client sends one command line and gets one reply
// line, "ok\n" or "error <message>\n"; then the connection is closed by the monitor:
//   reopen-log             reopen log_path (after the kubelet rotated it)
//   signal <n>             kill(container pid, n). Note: the init of a new pid namespace ignores
//                          signals it has no handler for (SIGTERM to `sleep` as pid 1): the
//                          stop path must escalate to SIGKILL after the grace period.
//   resize <rows> <cols>   TIOCSWINSZ on the container's terminal (tty containers only)
//   attach                 reply "ok\n", then the connection stays open and carries frames
//                          both ways: 1 byte stream + 4 bytes big-endian length + payload.
//                          monitor -> client: stream 1 = stdout, 2 = stderr (a tty container's
//                          output is stream 1); client -> monitor: stream 0 = stdin data,
//                          stream 0 with length 0 = close stdin. The monitor closes the
//                          connection after the container exited and its output was sent.
//                          Stdin data is accepted only if the spec had "stdin 1"; with
//                          "stdin_once 1" stdin is closed when an attached client leaves.
//                          Limits: 8 connections at a time; a client that cannot take output
//                          as fast as the container writes it is disconnected; stdin writes
//                          block the monitor while the container's stdin pipe is full.
//
// Exec: crisp-monitor exec --pid <container-pid> [--tty] [--winsize <rows>x<cols>]
//                          [--resize-fd <n>] [--spec <process-spec-file>] -- <argv...>
//   Runs argv inside the running container (its mnt, pid, net, ipc, uts and cgroup namespaces and
//   cgroups), with the caller's stdin/stdout/stderr (relayed through a pty in the container's
//   devpts with --tty). The exit status is the command's (128+n if killed by signal n); a failure
//   before the exec prints "crisp-monitor exec: <message>" on stderr and exits 126 (could not run)
//   or 127 (command not found). argv given on the command line replaces the spec's args.
//   --resize-fd n: an inherited fd (a pipe from crispd) carrying "<rows> <cols>\n" lines that
//   resize the exec's terminal (CRI Exec with tty). The exec'd process gets SIGKILL if the exec
//   helper dies (crispd killing it on an ExecSync timeout kills the command too); SIGTERM,
//   SIGINT and SIGHUP sent to the helper are forwarded.
//
// Pod init: crisp-monitor pod-init   pid 1 of a pod's shared pid namespace: reaps, exits on
//   SIGTERM/SIGINT.
//
// Signals to the monitor: SIGTERM and SIGINT are forwarded to the container init (the monitor
// itself stays until the container is gone); SIGKILL the container, not the monitor.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace crisp::monitor {

inline constexpr const char* kSpecFileName = "spec";
inline constexpr const char* kPidFileName = "pid";
inline constexpr const char* kExitFileName = "exit";
inline constexpr const char* kControlSocketName = "control.sock";
inline constexpr const char* kDefaultMonitorPath = "/usr/local/libexec/crisp/crisp-monitor";

// Where crispd finds the binary: $CRISP_MONITOR_PATH if set, else crisp-monitor next to the
// running executable, else the build tree's copy (when it exists), else kDefaultMonitorPath.
std::string default_monitor_path();

// Content of the pid file (key value lines):
//   pid <container pid>
//   start_time <ticks>           field 22 of /proc/<pid>/stat
//   monitor_pid <pid>
//   monitor_start_time <ticks>
struct PidFile {
  pid_t pid = 0;
  uint64_t start_time = 0;
  pid_t monitor_pid = 0;
  uint64_t monitor_start_time = 0;
};

// Content of the exit file (key value lines):
//   exit_code <n>      the exit status; 128+signal when killed by a signal
//   signal <n>         the signal that killed the container, 0 when it exited normally
//   started_at <ns>    unix time in ns when the exec succeeded
//   finished_at <ns>   unix time in ns when the monitor reaped it
struct ExitFile {
  int exit_code = 0;
  int signal = 0;
  int64_t started_at_ns = 0;
  int64_t finished_at_ns = 0;
};

// Readers for crispd: nullopt when the file does not exist; kInternal for a malformed file.
std::optional<PidFile> read_pid_file(const std::string& path);
std::optional<ExitFile> read_exit_file(const std::string& path);

// Field 22 of /proc/<pid>/stat; nullopt if the process is gone.
std::optional<uint64_t> read_process_start_time(pid_t pid);

struct StartedContainer {
  pid_t pid = 0;
  uint64_t start_time = 0;
};

// Spawns `<monitor_path> run <bundle_dir> --sync-fd 3`, reaps the launcher and waits (up to
// timeout) for the report. Throws crisp::Error: kFailedPrecondition with the monitor's message for
// "error <message>", kDeadlineExceeded on timeout, kInternal if the monitor died.
// stderr_path is where the monitor's own diagnostics go ("" = /dev/null).
StartedContainer start_container_monitor(const std::string& monitor_path,
                                         const std::string& bundle_dir,
                                         const std::string& stderr_path,
                                         std::chrono::milliseconds timeout);

// Sends one control command ("signal 15") and returns the reply line without the newline
// ("ok" or "error ..."). Throws kUnavailable when the socket cannot be reached.
std::string send_control_command(const std::string& socket_path, const std::string& command,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace crisp::monitor
