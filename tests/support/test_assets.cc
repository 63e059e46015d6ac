#include "tests/support/test_assets.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"

namespace crisp::test {

TempDir::TempDir(const std::string& prefix) {
  const char* tmp = getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  if (!mkdtemp(templ.data())) throw_errno("mkdtemp " + templ);
  path_ = templ;
}

TempDir::~TempDir() {
  try {
    remove();
  } catch (...) {
  }
}

void TempDir::remove() {
  if (path_.empty()) return;
  remove_tree(path_);
  path_.clear();
}

CommandResult run_command(const std::vector<std::string>& argv, const std::string& cwd,
                          bool merge_stderr) {
  if (argv.empty()) throw Error(ErrorKind::kInvalidArgument, "run_command: empty argv");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  UniqueFd dev_null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null) throw_errno("open /dev/null");
  const char* dir = cwd.empty() ? nullptr : cwd.c_str();

  pid_t pid = fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    dup2(dev_null.get(), 0);
    dup2(write_end.get(), 1);
    if (merge_stderr) dup2(write_end.get(), 2);
    if (dir && chdir(dir) != 0) _exit(127);
    execvp(args[0], args.data());
    _exit(127);
  }
  write_end.reset();
  CommandResult result;
  char buffer[8192];
  for (;;) {
    ssize_t n = read(read_end.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buffer, static_cast<size_t>(n));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw_errno("waitpid");
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string test_cache_dir() {
  const char* env = getenv("CRISP_TEST_CACHE");
  std::string dir = env && *env ? env : "/var/cache/crisp-tests";
  make_dirs(dir, 0755);
  return dir;
}

}  // namespace crisp::test
