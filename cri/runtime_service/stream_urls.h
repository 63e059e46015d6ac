#pragma once
// Shared checks of the streaming RPCs (Exec, Attach, PortForward).
#include "cri/streaming/server.h"
#include "runtime/base/error.h"

namespace crisp::cri {

// At least one of stdin/stdout/stderr; a tty merges stderr into stdout, so not both.
inline void validate_stream_flags(bool tty, bool stdin, bool stdout, bool stderr) {
  if (!stdin && !stdout && !stderr) {
    throw Error(ErrorKind::kInvalidArgument, "one of stdin, stdout, or stderr must be set");
  }
  if (tty && stderr) throw Error(ErrorKind::kInvalidArgument, "tty and stderr cannot both be true");
}

inline streaming::Server& require_streaming(streaming::Server* server) {
  if (!server) throw Error(ErrorKind::kUnavailable, "the streaming server is not running");
  return *server;
}

}  // namespace crisp::cri
