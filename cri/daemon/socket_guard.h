#pragma once
// Claims crispd's CRI socket path: one crispd per socket and per state dir.
// A live crispd (lock held, or something accepting on the socket) makes claim() fail with a clear
// kAlreadyExists error; a stale socket left by a dead crispd is removed.
#include <string>

#include "runtime/base/unique_fd.h"

namespace crisp::cri {

class SocketGuard {
 public:
  // Takes an exclusive lock on <state_dir>/crispd.lock and clears a stale socket at socket_path.
  SocketGuard(const std::string& socket_path, const std::string& state_dir);
  ~SocketGuard();
  SocketGuard(const SocketGuard&) = delete;
  SocketGuard& operator=(const SocketGuard&) = delete;

  // After the server listens: mode 0660, owner root:root.
  void restrict_permissions() const;

 private:
  std::string socket_path_;
  std::string lock_path_;
  UniqueFd lock_fd_;
};

}  // namespace crisp::cri
