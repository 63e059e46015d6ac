#pragma once
// The one place where handlers are logged, timed and their errors mapped to gRPC codes.
//
//   grpc::Status RuntimeServiceImpl::Version(...) {
//     return rpc("Version", *request, [&] { ...fill *response...; });
//   }
//
// The request's pod and container ids (cri/log_fields.h) are attached to every log record the body
// writes, and to the RPC's own log line.
// The body may throw crisp::Error (mapped by kind), std::exception (INTERNAL) or return normally (OK).
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <exception>
#include <string_view>
#include <utility>

#include <google/protobuf/message.h>

#include "cri/log_fields.h"
#include "runtime/base/error.h"

namespace crisp::cri {

grpc::StatusCode to_grpc_code(ErrorKind kind);

// "OK", "NOT_FOUND", ... (the names of grpc/status.proto's codes; metrics label them so).
std::string_view grpc_code_name(grpc::StatusCode code);

// Logs the outcome of an RPC: debug on success, warn/error on failure (with the message), and
// counts and times it (crisp_rpc_requests_total, crisp_rpc_duration_seconds).
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

template <typename Body>
grpc::Status rpc(std::string_view name, const google::protobuf::Message& request, Body&& body) {
  ScopedLogFields fields(log_fields_of(request));
  return rpc(name, std::forward<Body>(body));
}

}  // namespace crisp::cri
