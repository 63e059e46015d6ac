#pragma once
// The one error type the libraries throw. cri/ maps ErrorKind to a gRPC status code in one place
// (cri/status.cc); everything below cri/ speaks only in these kinds.
#include <stdexcept>
#include <string>

namespace crisp {

enum class ErrorKind {
  kInvalidArgument,     // the request is malformed or names something impossible
  kNotFound,            // the named object does not exist
  kAlreadyExists,       // a name or id is already taken
  kFailedPrecondition,  // the object is not in a state that allows the call
  kPermissionDenied,    // authentication/authorization refused (e.g. registry 401/403)
  kResourceExhausted,   // a limit was hit (size limits, no free IPs)
  kDeadlineExceeded,    // a timeout fired
  kUnavailable,         // a dependency is unreachable right now; retrying may help
  kUnimplemented,       // not supported by crisp
  kInternal,            // a bug or an unexpected kernel/filesystem failure
};

const char* error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// Throws kInternal with "<what>: <strerror(errno)>" (errno read at the call).
[[noreturn]] void throw_errno(const std::string& what);
// Same with an explicit errno value and kind.
[[noreturn]] void throw_errno(ErrorKind kind, int err, const std::string& what);

}  // namespace crisp
