#include "tests/integration/streaming/host_backend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "runtime/base/error.h"

namespace crisp::streaming::testing {

namespace {

class HostProcess final : public ProcessStreams {
 public:
  ~HostProcess() override {
    kill();
    wait();
  }
  int wait() override {
    std::lock_guard lock(wait_mu_);
    if (reaped_) return code_;
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    std::lock_guard state(state_mu_);
    reaped_ = true;
    code_ = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    return code_;
  }
  void kill() override {
    std::lock_guard state(state_mu_);
    if (!reaped_) ::kill(pid_, SIGKILL);
  }
  void resize(TerminalSize size) override {
    std::lock_guard state(state_mu_);
    if (!master_) return;
    struct winsize ws {};
    ws.ws_row = size.height;
    ws.ws_col = size.width;
    ::ioctl(master_.get(), TIOCSWINSZ, &ws);
  }

  pid_t pid_ = 0;
  UniqueFd master_;

 private:
  std::mutex wait_mu_;   // serializes wait()
  std::mutex state_mu_;  // guards reaped_, code_
  bool reaped_ = false;
  int code_ = -1;
};

}  // namespace

std::unique_ptr<ProcessStreams> HostBackend::spawn(const std::vector<std::string>& cmd, bool tty, bool stdin,
                                                   bool stderr, TerminalSize size) {
  auto process = std::make_unique<HostProcess>();
  std::vector<char*> argv;
  std::vector<std::string> args = cmd;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (tty) {
    int master = -1;
    struct winsize ws {};
    ws.ws_row = size.height;
    ws.ws_col = size.width;
    pid = ::forkpty(&master, nullptr, nullptr, size.width ? &ws : nullptr);
    if (pid < 0) throw_errno("forkpty");
    if (pid == 0) {
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::fcntl(master, F_SETFD, FD_CLOEXEC);
    process->master_.reset(master);
    process->stdout_fd.reset(::fcntl(master, F_DUPFD_CLOEXEC, 0));
    if (stdin) process->stdin_fd.reset(::fcntl(master, F_DUPFD_CLOEXEC, 0));
  } else {
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) throw_errno("pipe");
    pid = ::fork();
    if (pid < 0) throw_errno("fork");
    if (pid == 0) {
      if (stdin) {
        ::dup2(in[0], 0);
      } else {
        int null = ::open("/dev/null", O_RDONLY);
        ::dup2(null, 0);
      }
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    if (stdin) {
      process->stdin_fd.reset(in[1]);
    } else {
      ::close(in[1]);
    }
    process->stdout_fd.reset(out[0]);
    if (stderr) {
      process->stderr_fd.reset(err[0]);
    } else {
      ::close(err[0]);
    }
  }
  process->pid_ = pid;
  std::lock_guard lock(mu_);
  started_.push_back(pid);
  return process;
}

std::unique_ptr<ProcessStreams> HostBackend::start_exec(const ExecSpec& spec) {
  if (spec.cmd.empty()) throw Error(ErrorKind::kInvalidArgument, "empty command");
  return spawn(spec.cmd, spec.tty, spec.stdin, spec.stderr, spec.initial_size);
}

std::unique_ptr<ProcessStreams> HostBackend::attach(const AttachSpec& spec) {
  return spawn(attach_command, spec.tty, spec.stdin, spec.stderr, {});
}

UniqueFd HostBackend::port_forward_connect(const std::string&, uint16_t port) {
  UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    throw_errno(ErrorKind::kUnavailable, errno, "connect 127.0.0.1:" + std::to_string(port));
  }
  return sock;
}

std::vector<pid_t> HostBackend::started() {
  std::lock_guard lock(mu_);
  return started_;
}

bool process_gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

}  // namespace crisp::streaming::testing
