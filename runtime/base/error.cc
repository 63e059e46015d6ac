#include "runtime/base/error.h"

#include <cerrno>
#include <cstring>

namespace crisp {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument: return "InvalidArgument";
    case ErrorKind::kNotFound: return "NotFound";
    case ErrorKind::kAlreadyExists: return "AlreadyExists";
    case ErrorKind::kFailedPrecondition: return "FailedPrecondition";
    case ErrorKind::kPermissionDenied: return "PermissionDenied";
    case ErrorKind::kResourceExhausted: return "ResourceExhausted";
    case ErrorKind::kDeadlineExceeded: return "DeadlineExceeded";
    case ErrorKind::kUnavailable: return "Unavailable";
    case ErrorKind::kUnimplemented: return "Unimplemented";
    case ErrorKind::kInternal: return "Internal";
  }
  return "Unknown";
}

void throw_errno(const std::string& what) { throw_errno(ErrorKind::kInternal, errno, what); }

void throw_errno(ErrorKind kind, int err, const std::string& what) {
  throw Error(kind, what + ": " + std::strerror(err));
}

}  // namespace crisp
