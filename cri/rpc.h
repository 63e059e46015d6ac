#pragma once
// The one place where handlers are logged, timed and their errors mapped to gRPC codes.
//
//   grpc::Status RuntimeServiceImpl::Version(...) {
//     return rpc("Version", [&] { ...fill *response...; });
//   }
//
// The body may throw crisp::Error (mapped by kind), std::exception (INTERNAL) or return normally (OK).
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <exception>
#include <string_view>

#include "runtime/base/error.h"

namespace crisp::cri {

grpc::StatusCode to_grpc_code(ErrorKind kind);

// Logs the outcome of an RPC: debug on success, warn/error on failure (with the message).
void log_rpc(std::string_view name, std::chrono::steady_clock::duration took, const grpc::Status& status);

// The status for an RPC crisp does not implement.
grpc::Status unimplemented(std::string_view name);

template <typename Body>
grpc::Status rpc(std::string_view name, Body&& body) {
  auto start = std::chrono::steady_clock::now();
  grpc::Status status;
  try {
    body();
  } catch (const Error& e) {
    status = grpc::Status(to_grpc_code(e.kind()), e.what());
  } catch (const std::exception& e) {
    status = grpc::Status(grpc::StatusCode::INTERNAL, e.what());
  } catch (...) {
    status = grpc::Status(grpc::StatusCode::UNKNOWN, "unknown failure");
  }
  log_rpc(name, std::chrono::steady_clock::now() - start, status);
  return status;
}

}  // namespace crisp::cri
