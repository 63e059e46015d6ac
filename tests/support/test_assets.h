#pragma once
// Small helpers shared by the registry fixture and the test images.
//
//   crisp::test::TempDir dir("crisp-registry");   // mkdtemp under $TMPDIR or /tmp; removed on scope exit
//   dir.path();
//   crisp::test::CommandResult r = crisp::test::run_command({"htpasswd", "-Bbn", "u", "p"});
//   r.exit_code, r.output (stdout; stderr too when merge_stderr)
//   crisp::test::test_cache_dir();                // $CRISP_TEST_CACHE or /var/cache/crisp-tests
#include <string>
#include <vector>

namespace crisp::test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "crisp-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Removes the directory now (also done by the destructor). Idempotent.
  void remove();

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;  // 128+signal when killed by a signal
  std::string output;
};

// Runs argv[0] (searched in PATH) with stdin from /dev/null, in cwd when non-empty, and collects
// its stdout (and stderr when merge_stderr; otherwise stderr is inherited). Throws crisp::Error
// only when the process cannot be started.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& cwd = "",
                          bool merge_stderr = true);

// Where built test images and downloads are cached between runs (created if missing).
std::string test_cache_dir();

}  // namespace crisp::test
