#include "cri/runtime_service/stream_backend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <sstream>
#include <thread>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/monitor/protocol.h"
#include "runtime/monitor/spec.h"
#include "runtime/runtime.h"

extern char** environ;

namespace crisp::cri {

namespace {

using streaming::ProcessStreams;
using streaming::TerminalSize;

struct Pipe {
  UniqueFd read, write;
};
Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe");
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// The process part of a container's bundle spec (the "process keys" of spec.h) with argv and the
// terminal flag replaced: what `crisp-monitor exec --spec` reads.
// TODO(runtime): replace with a Runtime call that returns the exec process spec.
std::string exec_process_spec(const std::string& bundle_spec, const std::vector<std::string>& cmd, bool tty) {
  static const char* const kProcessKeys[] = {"env", "cwd", "user", "additional_gids", "no_new_privs",
                                             "cap_bounding", "cap_effective", "cap_permitted",
                                             "cap_inheritable", "cap_ambient", "seccomp", "oom_score_adj",
                                             "rlimit"};
  std::string out = "crisp-spec 1\n";
  for (const auto& arg : cmd) out += "arg " + monitor::escape_spec_field(arg) + "\n";
  std::istringstream in(bundle_spec);
  std::string line;
  while (std::getline(in, line)) {
    std::string key = line.substr(0, line.find(' '));
    for (const char* k : kProcessKeys) {
      if (key == k) {
        out += line + "\n";
        break;
      }
    }
  }
  out += std::string("terminal ") + (tty ? "1" : "0") + "\nstdin 0\nstdin_once 0\nend\n";
  return out;
}

// `crisp-monitor exec` with pipes; killing it kills the command (the monitor's contract).
class MonitorExec final : public ProcessStreams {
 public:
  ~MonitorExec() override {
    kill();
    wait();
    if (!spec_path_.empty()) ::unlink(spec_path_.c_str());
  }
  int wait() override {
    std::lock_guard lock(wait_mu_);
    if (reaped_) return exit_code_;
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    exit_code_ = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    if (!spec_path_.empty()) ::unlink(spec_path_.c_str());
    spec_path_.clear();
    return exit_code_;
  }
  void kill() override {
    // Through the pidfd: never a recycled pid, even while wait() is reaping.
    if (pidfd_) {
      ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
    } else if (pid_ > 0 && !reaped_.load()) {  // no pidfd (old kernel): the pid, unless reaped
      ::kill(pid_, SIGKILL);
    }
  }
  void resize(TerminalSize size) override {
    std::lock_guard state(state_mu_);
    if (!resize_fd_) return;
    std::string line = std::to_string(size.height) + " " + std::to_string(size.width) + "\n";
    [[maybe_unused]] ssize_t n = ::write(resize_fd_.get(), line.data(), line.size());
  }

  pid_t pid_ = 0;
  UniqueFd pidfd_;
  std::string spec_path_;
  UniqueFd resize_fd_;  // write end of the --resize-fd pipe (tty only)

 private:
  std::mutex wait_mu_;   // serializes wait(); guards reaped_, exit_code_, spec_path_
  std::mutex state_mu_;  // guards resize_fd_ writes
  std::atomic<bool> reaped_{false};
  int exit_code_ = -1;
};

// The monitor's `attach` connection relayed to pipes: frames (1 byte stream, 4 bytes big-endian
// length, payload) from the monitor go to stdout/stderr, stdin pipe data goes back as stream 0.
class MonitorAttach final : public ProcessStreams {
 public:
  MonitorAttach(UniqueFd socket, std::string control_socket, bool stdin)
      : socket_(std::move(socket)), control_socket_(std::move(control_socket)), stdin_(stdin) {
    Pipe wake = make_pipe();
    wake_read_ = std::move(wake.read);
    wake_write_ = std::move(wake.write);
  }
  ~MonitorAttach() override { kill(); }

  int wait() override {
    std::string in;
    char buf[32 * 1024];
    bool stdin_open = stdin_ && server_stdin_;
    for (;;) {
      struct pollfd fds[3] = {{socket_.get(), POLLIN, 0},
                              {wake_read_.get(), POLLIN, 0},
                              {stdin_open ? server_stdin_.get() : -1, POLLIN, 0}};
      if (::poll(fds, 3, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[1].revents) break;
      if (fds[2].revents) {
        ssize_t n = ::read(server_stdin_.get(), buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        std::string frame(5, '\0');
        uint32_t len = n > 0 ? static_cast<uint32_t>(n) : 0;
        frame[0] = 0;
        frame[1] = static_cast<char>(len >> 24);
        frame[2] = static_cast<char>(len >> 16);
        frame[3] = static_cast<char>(len >> 8);
        frame[4] = static_cast<char>(len);
        frame.append(buf, len);
        if (!write_all(socket_.get(), frame)) break;
        if (n <= 0) stdin_open = false;  // stream 0 with length 0: close stdin
      }
      if (fds[0].revents) {
        ssize_t n = ::read(socket_.get(), buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        while (in.size() >= 5) {
          auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(in[i])); };
          uint32_t len = b(1) << 24 | b(2) << 16 | b(3) << 8 | b(4);
          if (len > (1u << 24)) return 0;
          if (in.size() < 5 + len) break;
          int target = in[0] == 2 ? server_stderr_.get() : server_stdout_.get();
          if (target >= 0) write_all(target, in.substr(5, len));
          in.erase(0, 5 + len);
        }
      }
    }
    server_stdout_.reset();
    server_stderr_.reset();
    return 0;
  }
  void kill() override {
    char byte = 1;
    if (!wake_write_) return;
    [[maybe_unused]] ssize_t n = ::write(wake_write_.get(), &byte, 1);
  }
  void resize(TerminalSize size) override {
    try {
      monitor::send_control_command(control_socket_, "resize " + std::to_string(size.height) + " " +
                                                         std::to_string(size.width));
    } catch (const std::exception&) {
    }
  }

  UniqueFd server_stdin_, server_stdout_, server_stderr_;  // our ends of the client's pipes

 private:
  static bool write_all(int fd, const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  UniqueFd socket_;
  std::string control_socket_;
  bool stdin_;
  UniqueFd wake_read_, wake_write_;
};

runtime::ContainerInfo running_container(runtime::Runtime& runtime, const std::string& id) {
  auto info = runtime.container_status(id);
  if (info.state != runtime::ContainerState::kRunning || info.pid <= 0) {
    throw Error(ErrorKind::kFailedPrecondition, "container " + id + " is not running");
  }
  return info;
}

}  // namespace

RuntimeStreamBackend::RuntimeStreamBackend(runtime::Runtime& runtime, std::string monitor_path, std::string state_dir)
    : runtime_(runtime), monitor_path_(std::move(monitor_path)), state_dir_(std::move(state_dir)) {}

std::unique_ptr<ProcessStreams> RuntimeStreamBackend::start_exec(const streaming::ExecSpec& spec) {
  auto info = running_container(runtime_, spec.container_id);
  auto process = std::make_unique<MonitorExec>();
  std::string dir = state_dir_ + "/exec";
  make_dirs(dir, 0700);
  process->spec_path_ = dir + "/" + random_hex(12) + ".spec";
  atomic_write_file(process->spec_path_, exec_process_spec(info.spec, spec.cmd, spec.tty), 0600);

  Pipe in = make_pipe(), out = make_pipe(), err = make_pipe(), resize = make_pipe();
  std::vector<std::string> args = {monitor_path_, "exec", "--pid", std::to_string(info.pid)};
  if (spec.tty) {
    args.insert(args.end(), {"--tty", "--resize-fd", "3"});
    if (spec.initial_size.width && spec.initial_size.height) {
      args.push_back("--winsize");
      args.push_back(std::to_string(spec.initial_size.height) + "x" + std::to_string(spec.initial_size.width));
    }
  }
  args.insert(args.end(), {"--spec", process->spec_path_, "--"});
  args.insert(args.end(), spec.cmd.begin(), spec.cmd.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (spec.stdin) {
    posix_spawn_file_actions_adddup2(&actions, in.read.get(), 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out.write.get(), 1);
  // With a tty everything is the terminal's output; the monitor's own errors go there too.
  posix_spawn_file_actions_adddup2(&actions, spec.tty ? out.write.get() : err.write.get(), 2);
  if (spec.tty) posix_spawn_file_actions_adddup2(&actions, resize.read.get(), 3);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, monitor_path_.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw_errno(ErrorKind::kInternal, rc, "spawn " + monitor_path_ + " exec");
  process->pid_ = pid;
  process->pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (spec.stdin) process->stdin_fd = std::move(in.write);
  process->stdout_fd = std::move(out.read);
  if (!spec.tty) process->stderr_fd = std::move(err.read);
  if (spec.tty) process->resize_fd_ = std::move(resize.write);
  return process;
}

std::unique_ptr<ProcessStreams> RuntimeStreamBackend::attach(const streaming::AttachSpec& spec) {
  auto info = running_container(runtime_, spec.container_id);
  // TODO(runtime): ask the runtime for the control socket instead of knowing its layout.
  std::string path = state_dir_ + "/sock/" + info.id.substr(0, 24) + ".sock";
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) throw_errno("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) throw Error(ErrorKind::kInternal, "control socket path too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    throw_errno(ErrorKind::kUnavailable, errno, "attach: connect to the monitor of " + info.id);
  }
  const char command[] = "attach\n";
  if (::write(sock.get(), command, sizeof(command) - 1) != static_cast<ssize_t>(sizeof(command) - 1)) {
    throw_errno(ErrorKind::kUnavailable, errno, "attach: write to the monitor");
  }
  std::string reply;
  char c = 0;
  while (reply.size() < 512 && ::read(sock.get(), &c, 1) == 1 && c != '\n') reply.push_back(c);
  if (reply != "ok") throw Error(ErrorKind::kFailedPrecondition, "attach to " + info.id + ": " + reply);

  bool stdin = spec.stdin && info.config.stdin;
  auto session = std::make_unique<MonitorAttach>(std::move(sock), path, stdin);
  Pipe in = make_pipe(), out = make_pipe(), err = make_pipe();
  if (stdin) {
    session->stdin_fd = std::move(in.write);
    session->server_stdin_ = std::move(in.read);
  }
  if (spec.stdout || spec.tty) {
    session->stdout_fd = std::move(out.read);
    session->server_stdout_ = std::move(out.write);
  }
  if (spec.stderr && !spec.tty) {
    session->stderr_fd = std::move(err.read);
    session->server_stderr_ = std::move(err.write);
  }
  return session;
}

UniqueFd RuntimeStreamBackend::port_forward_connect(const std::string& sandbox_id, uint16_t port) {
  auto sandbox = runtime_.sandbox_status(sandbox_id);
  if (sandbox.state != runtime::SandboxState::kReady) {
    throw Error(ErrorKind::kFailedPrecondition, "sandbox " + sandbox_id + " is not ready");
  }
  // A short-lived thread enters the pod's netns; the socket it makes stays in that netns. The
  // thread's own namespace dies with it, so crispd's threads are never left in the pod.
  UniqueFd result;
  std::string error;
  std::thread([&] {
    try {
      if (!sandbox.netns_path.empty()) {
        UniqueFd ns(::open(sandbox.netns_path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!ns) throw_errno("open " + sandbox.netns_path);
        if (::unshare(CLONE_FS) != 0) throw_errno("unshare");
        if (::setns(ns.get(), CLONE_NEWNET) != 0) throw_errno("setns " + sandbox.netns_path);
      }
      UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (!sock) throw_errno("socket");
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(port);
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        throw_errno(ErrorKind::kUnavailable, errno, "connect to 127.0.0.1:" + std::to_string(port));
      }
      result = std::move(sock);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }).join();
  if (!result) throw Error(ErrorKind::kUnavailable, error);
  return result;
}

}  // namespace crisp::cri
