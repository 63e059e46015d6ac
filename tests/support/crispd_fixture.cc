#include "tests/support/crispd_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "runtime/base/file_util.h"

namespace crisp::test {

namespace {

std::string make_temp_dir() {
  char tmpl[] = "/tmp/crisp-test-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

// Mount points from /proc/self/mountinfo (field 5), octal escapes decoded.
std::vector<std::string> mount_points() {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string f;
    for (int i = 0; i < 5 && fields >> f; ++i) {
    }
    std::string decoded;
    for (size_t i = 0; i < f.size(); ++i) {
      if (f[i] == '\\' && i + 3 < f.size()) {
        decoded.push_back(static_cast<char>(std::stoi(f.substr(i + 1, 3), nullptr, 8)));
        i += 3;
      } else {
        decoded.push_back(f[i]);
      }
    }
    out.push_back(decoded);
  }
  return out;
}

void run_quietly(const std::string& command) {
  int rc = std::system((command + " >/dev/null 2>&1").c_str());
  (void)rc;
}

}  // namespace

std::string build_path(const std::string& name) {
  const char* dir = std::getenv("CRISP_BUILD_DIR");
  return std::string(dir ? dir : ".") + "/" + name;
}

std::unique_ptr<grpc::ClientContext> client_context(std::chrono::milliseconds timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  return ctx;
}

void kill_processes_mentioning(const std::string& needle) {
  for (int round = 0; round < 50; ++round) {
    bool found = false;
    DIR* proc = ::opendir("/proc");
    if (!proc) return;
    while (struct dirent* ent = ::readdir(proc)) {
      pid_t pid = static_cast<pid_t>(std::atoi(ent->d_name));
      if (pid <= 1 || pid == ::getpid()) continue;
      std::string proc_dir = "/proc/" + std::string(ent->d_name);
      auto cmdline = read_file_if_exists(proc_dir + "/cmdline");
      char root[4096];
      ssize_t n = ::readlink((proc_dir + "/root").c_str(), root, sizeof root - 1);
      std::string root_path = n > 0 ? std::string(root, static_cast<size_t>(n)) : "";
      bool mentions = (cmdline && cmdline->find(needle) != std::string::npos) ||
                      root_path.find(needle) != std::string::npos;
      if (!mentions) continue;
      found = true;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, WNOHANG);
    }
    ::closedir(proc);
    if (!found) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void kill_processes_in_namespaces_under(const std::string& prefix) {
  // Namespaces pinned under prefix (bind mounts of nsfs files), by inode.
  std::vector<ino_t> pinned;
  for (const auto& mp : mount_points()) {
    if (mp.rfind(prefix + "/", 0) != 0 || mp.find("/ns/") == std::string::npos) continue;
    struct stat st;
    if (::stat(mp.c_str(), &st) == 0) pinned.push_back(st.st_ino);
  }
  if (pinned.empty()) return;
  DIR* proc = ::opendir("/proc");
  if (!proc) return;
  while (struct dirent* ent = ::readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atoi(ent->d_name));
    if (pid <= 1 || pid == ::getpid()) continue;
    for (const char* kind : {"net", "ipc", "uts"}) {
      struct stat st;
      std::string path = "/proc/" + std::string(ent->d_name) + "/ns/" + kind;
      if (::stat(path.c_str(), &st) == 0 && std::find(pinned.begin(), pinned.end(), st.st_ino) != pinned.end()) {
        ::kill(pid, SIGKILL);
        break;
      }
    }
  }
  ::closedir(proc);
}

namespace {

// rmdir a cgroup directory and its children, deepest first.
void remove_cgroup_tree(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return;
  std::vector<std::string> children;
  while (struct dirent* ent = ::readdir(dir)) {
    if (ent->d_type == DT_DIR && ent->d_name[0] != '.') children.push_back(path + "/" + ent->d_name);
  }
  ::closedir(dir);
  for (const auto& child : children) remove_cgroup_tree(child);
  ::rmdir(path.c_str());
}

}  // namespace

void remove_sandbox_cgroups(const std::string& root_dir) {
  DIR* records = ::opendir((root_dir + "/sandboxes").c_str());
  if (!records) return;
  std::vector<std::string> ids;
  while (struct dirent* ent = ::readdir(records)) {
    std::string name = ent->d_name;
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) ids.push_back(name.substr(0, name.size() - 5));
  }
  ::closedir(records);
  DIR* hierarchies = ::opendir("/sys/fs/cgroup");
  if (!hierarchies) return;
  std::vector<std::string> roots;
  while (struct dirent* ent = ::readdir(hierarchies)) {
    if (ent->d_name[0] != '.') roots.push_back(std::string("/sys/fs/cgroup/") + ent->d_name);
  }
  ::closedir(hierarchies);
  roots.push_back("/sys/fs/cgroup");
  // Killed processes leave their cgroups a moment later: retry for up to a second.
  for (int round = 0; round < 20; ++round) {
    bool left = false;
    for (const auto& root : roots)
      for (const auto& id : ids) {
        std::string path = root + "/crisp/" + id;
        remove_cgroup_tree(path);
        if (::access(path.c_str(), F_OK) == 0) left = true;
      }
    if (!left) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // The parent crisp creates on demand; kept (rmdir fails) while anything else uses it.
  for (const auto& root : roots) ::rmdir((root + "/crisp").c_str());
}

void unmount_under(const std::string& prefix) {
  for (int round = 0; round < 10; ++round) {
    std::vector<std::string> targets;
    for (const auto& mp : mount_points())
      if (mp == prefix || mp.rfind(prefix + "/", 0) == 0) targets.push_back(mp);
    if (targets.empty()) return;
    std::sort(targets.begin(), targets.end(), [](const std::string& a, const std::string& b) {
      return a.size() > b.size();
    });
    for (const auto& t : targets) ::umount2(t.c_str(), MNT_DETACH);
  }
}

CrispdFixture::CrispdFixture(CrispdOptions options) : options_(std::move(options)), dir_(make_temp_dir()) {
  // Names unique to this fixture: the last 6 characters of the temp dir are random.
  tag_ = dir_.substr(dir_.size() - 6);
  for (auto& c : tag_) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!options_.config_toml.empty()) atomic_write_file(dir_ + "/crisp.toml", options_.config_toml);
  if (options_.start) {
    try {
      start();
    } catch (...) {
      cleanup_leftovers();
      throw;
    }
  }
}

CrispdFixture::~CrispdFixture() {
  if (pid_ > 0) stop();
  cleanup_leftovers();
}

std::vector<std::string> CrispdFixture::command() const {
  std::vector<std::string> cmd = {build_path("crispd"), "--socket", socket(), "--root", root(), "--state", state(),
                                  "--log-level", "debug"};
  if (!options_.config_toml.empty()) {
    cmd.push_back("--config");
    cmd.push_back(dir_ + "/crisp.toml");
  }
  cmd.insert(cmd.end(), options_.args.begin(), options_.args.end());
  // Pod networking on names and addresses of this fixture's own, never the host's crisp0.
  auto given = [&](const std::string& flag) {
    return std::find(options_.args.begin(), options_.args.end(), flag) != options_.args.end() ||
           options_.config_toml.find("[network]") != std::string::npos;
  };
  if (!given("--network-mode")) cmd.insert(cmd.end(), {"--network-mode", "builtin"});
  if (!given("--bridge")) cmd.insert(cmd.end(), {"--bridge", bridge()});
  if (!given("--nft-table")) cmd.insert(cmd.end(), {"--nft-table", nft_table()});
  if (!given("--pod-cidr")) cmd.insert(cmd.end(), {"--pod-cidr", pod_cidr()});
  return cmd;
}

void CrispdFixture::start() {
  if (pid_ > 0) throw std::runtime_error("crispd already running");
  std::vector<std::string> cmd = command();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int log = ::open((dir_ + "/crispd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::dup2(devnull, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    std::vector<char*> argv;
    for (auto& a : cmd) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  connect();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("crispd exited during start-up:\n" + log());
    }
    ::runtime::v1::VersionResponse resp;
    auto ctx = client_context(std::chrono::milliseconds(500));
    if (::access(socket().c_str(), F_OK) == 0 && runtime_->Version(ctx.get(), {}, &resp).ok()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill9();
  throw std::runtime_error("crispd did not answer within 30 s:\n" + log());
}

int CrispdFixture::stop() {
  if (pid_ <= 0) return 0;
  ::kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 1000; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill9();
  return -1;
}

void CrispdFixture::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string CrispdFixture::log() const { return read_file_if_exists(log_path()).value_or(""); }

void CrispdFixture::connect() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 * 1024 * 1024);
  // A restarted crispd listens within milliseconds: do not let gRPC back off for seconds.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  // ...and give each channel its own subchannel (no state shared with the channel to the crispd
  // this fixture killed). Known: after kill9() + start() this client still needs ~5 s before its
  // first RPC succeeds ("connection attempt timed out before receiving SETTINGS frame" in gRPC's
  // trace), although crispd serves within milliseconds and a new client process gets an answer
  // in ~45 ms; the cause is in this process's gRPC client, not in crispd.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  channel_ = grpc::CreateCustomChannel(endpoint(), grpc::InsecureChannelCredentials(), args);
  runtime_ = ::runtime::v1::RuntimeService::NewStub(channel_);
  images_ = ::runtime::v1::ImageService::NewStub(channel_);
}

::runtime::v1::RuntimeService::Stub& CrispdFixture::runtime() { return *runtime_; }
::runtime::v1::ImageService::Stub& CrispdFixture::images() { return *images_; }
std::shared_ptr<grpc::Channel> CrispdFixture::channel() { return channel_; }

void CrispdFixture::cleanup_leftovers() {
  runtime_.reset();
  images_.reset();
  channel_.reset();
  // Monitors and container processes started under our dirs, then their mounts, network
  // leftovers, then the dirs.
  kill_processes_mentioning(dir_ + "/");
  kill_processes_in_namespaces_under(dir_);
  remove_sandbox_cgroups(root());
  unmount_under(dir_);
  run_quietly("ip link del " + bridge());
  run_quietly("nft delete table ip " + nft_table());
  run_quietly("nft delete table ip6 " + nft_table());
  try {
    remove_tree(dir_);
  } catch (...) {
    unmount_under(dir_);
    try {
      remove_tree(dir_);
    } catch (...) {
    }
  }
}

}  // namespace crisp::test
