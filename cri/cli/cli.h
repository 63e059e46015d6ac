#pragma once
// The `crisp` admin CLI: shared pieces of its commands. Every command returns the process exit
// code: 0 ok, 1 failure (message on stderr as "crisp: <message>"), 2 usage error.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "cri/proto/admin.grpc.pb.h"
#include "cri/proto/admin.pb.h"

namespace crisp::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// A connection to crispd's Admin service on a unix socket.
class AdminClient {
 public:
  explicit AdminClient(std::string socket);
  const std::string& socket() const { return socket_; }
  ::crisp::admin::v1::Admin::Stub& stub() { return *stub_; }
  // Throws CliError with "cannot reach crispd at <socket>: <reason>" when nothing listens there.
  void check_reachable() const;

 private:
  std::string socket_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::crisp::admin::v1::Admin::Stub> stub_;
};

// A failure to report as "crisp: <message>" with an exit code.
struct CliError {
  std::string message;
  int exit_code = kExitFailure;
};

// Turns a failed call's status into a CliError (a connection failure names the socket).
[[noreturn]] void fail(const AdminClient& client, const grpc::Status& status);
// A client context with a deadline (0: none).
std::unique_ptr<grpc::ClientContext> call_context(int timeout_seconds = 60);

// Commands.
int images_import(AdminClient& client, const std::string& file, bool all_platforms, bool no_pin);
int images_export(AdminClient& client, const std::vector<std::string>& refs, const std::string& output);
int images_pin(AdminClient& client, const std::string& ref, bool pinned);
int info(AdminClient& client, bool json);
int gc(AdminClient& client);
int config_dump(AdminClient& client);

}  // namespace crisp::cli
