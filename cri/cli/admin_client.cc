// The `crisp` CLI's connection to crispd and its error reporting.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "cri/cli/cli.h"
#include "runtime/base/unique_fd.h"

namespace crisp::cli {

AdminClient::AdminClient(std::string socket) : socket_(std::move(socket)) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 * 1024 * 1024);
  args.SetMaxSendMessageSize(16 * 1024 * 1024);
  channel_ = grpc::CreateCustomChannel("unix://" + socket_, grpc::InsecureChannelCredentials(), args);
  stub_ = ::crisp::admin::v1::Admin::NewStub(channel_);
}

void AdminClient::check_reachable() const {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof(addr.sun_path)) {
    throw CliError{"cannot reach crispd at " + socket_ + ": the socket path is too long", kExitFailure};
  }
  std::memcpy(addr.sun_path, socket_.c_str(), socket_.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw CliError{"cannot reach crispd at " + socket_ + ": socket: " + std::strerror(errno), kExitFailure};
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    throw CliError{"cannot reach crispd at " + socket_ + ": " + std::strerror(errno) + " (is crispd running?)",
                   kExitFailure};
  }
}

void fail(const AdminClient& client, const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      status.error_message().find("failed to connect") != std::string::npos) {
    throw CliError{"cannot reach crispd at " + client.socket() + ": " + status.error_message(), kExitFailure};
  }
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    throw CliError{"crispd at " + client.socket() + " does not serve the admin API (" + status.error_message() +
                       "); is it an older crispd?",
                   kExitFailure};
  }
  throw CliError{status.error_message().empty() ? "call failed with gRPC code " +
                                                      std::to_string(static_cast<int>(status.error_code()))
                                                : status.error_message(),
                 kExitFailure};
}

std::unique_ptr<grpc::ClientContext> call_context(int timeout_seconds) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (timeout_seconds > 0) ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_seconds));
  return ctx;
}

}  // namespace crisp::cli
