#pragma once
// CrispdFixture: a real crispd on a temporary socket, root and state dir, with gRPC stubs for both
// CRI services. Teardown stops crispd and removes everything it made: processes started under the
// fixture's directory (monitors), mounts under it, and the directory itself.
//
//   crisp::test::CrispdFixture crispd;                 // starts and waits for the socket
//   ::runtime::v1::VersionResponse v;
//   grpc::ClientContext ctx;
//   ASSERT_TRUE(crispd.runtime().Version(&ctx, {}, &v).ok());
//   crispd.kill9(); crispd.start();                    // crash and restart on the same dirs
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "cri/proto/cri_api.h"

namespace crisp::test {

struct CrispdOptions {
  std::vector<std::string> args;  // extra command-line flags
  std::string config_toml;        // written to <dir>/crisp.toml and passed with --config when non-empty
  bool start = true;              // start in the constructor
};

class CrispdFixture {
 public:
  explicit CrispdFixture(CrispdOptions options = {});
  ~CrispdFixture();
  CrispdFixture(const CrispdFixture&) = delete;
  CrispdFixture& operator=(const CrispdFixture&) = delete;

  // Starts crispd (again) on the same dirs and waits until it answers Version. Throws on failure,
  // with crispd's log in the message.
  void start();
  // SIGTERM and wait (up to 10 s). Returns the exit status as waitpid() reports it.
  int stop();
  // SIGKILL, as a crash: nothing is cleaned up by crispd.
  void kill9();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  const std::string& dir() const { return dir_; }
  std::string socket() const { return dir_ + "/crisp.sock"; }
  std::string endpoint() const { return "unix://" + socket(); }
  std::string root() const { return dir_ + "/root"; }
  std::string state() const { return dir_ + "/state"; }
  std::string log_path() const { return dir_ + "/crispd.log"; }
  std::string log() const;  // crispd's stderr so far

  ::runtime::v1::RuntimeService::Stub& runtime();
  ::runtime::v1::ImageService::Stub& images();
  std::shared_ptr<grpc::Channel> channel();

  // The built-in pod network of this fixture (unless the options choose their own): a bridge, an
  // nftables table and a /24 of its own, removed at teardown.
  std::string bridge() const { return "crt" + tag_; }
  std::string nft_table() const { return "crt" + tag_; }
  std::string pod_cidr() const { return "10.234." + std::to_string(std::hash<std::string>{}(tag_) % 256) + ".0/24"; }

  // Command line that start() runs (for tests that start crispd themselves).
  std::vector<std::string> command() const;

 private:
  void connect();
  void cleanup_leftovers();

  CrispdOptions options_;
  std::string dir_;
  std::string tag_;
  pid_t pid_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::runtime::v1::RuntimeService::Stub> runtime_;
  std::unique_ptr<::runtime::v1::ImageService::Stub> images_;
};

// Path of a binary in the build dir (CRISP_BUILD_DIR, set by ctest).
std::string build_path(const std::string& name);

// A gRPC client context with a deadline (default 30 s).
std::unique_ptr<grpc::ClientContext> client_context(std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Kills every process whose command line or root directory mentions `needle` (SIGKILL) and waits until they are gone.
void kill_processes_mentioning(const std::string& needle);
// Kills every process inside a namespace pinned under `prefix` (a pod's net/ipc/uts).
void kill_processes_in_namespaces_under(const std::string& prefix);
// Removes the cgroups (/sys/fs/cgroup/<hierarchy>/crisp/<sandbox id>) of every sandbox recorded
// under a crispd root dir, for crispds that were killed before removing their pods.
void remove_sandbox_cgroups(const std::string& root_dir);
// Unmounts (lazily, deepest first) every mount whose mount point starts with `prefix`.
void unmount_under(const std::string& prefix);

}  // namespace crisp::test
