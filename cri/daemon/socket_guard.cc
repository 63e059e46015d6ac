#include "cri/daemon/socket_guard.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::cri {

namespace {

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// True if something accepts connections on the unix socket at path.
bool socket_is_live(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

}  // namespace

SocketGuard::SocketGuard(const std::string& socket_path, const std::string& state_dir)
    : socket_path_(socket_path), lock_path_(state_dir + "/crispd.lock") {
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof addr.sun_path)
    throw Error(ErrorKind::kInvalidArgument, "socket path too long (max " +
                                                 std::to_string(sizeof addr.sun_path - 1) + "): " + socket_path);
  make_dirs(state_dir, 0711);
  make_dirs(parent_dir(socket_path), 0711);

  lock_fd_.reset(::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock_fd_) throw_errno("open " + lock_path_);
  if (::flock(lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    std::string holder;
    if (auto pid = read_file_if_exists(lock_path_)) holder = " (pid " + *pid + ")";
    throw Error(ErrorKind::kAlreadyExists,
                "another crispd" + holder + " is running with state dir " + state_dir + "; refusing to start");
  }
  if (socket_is_live(socket_path))
    throw Error(ErrorKind::kAlreadyExists,
                "socket " + socket_path + " is served by another process; refusing to start");
  if (::unlink(socket_path.c_str()) != 0 && errno != ENOENT) throw_errno("remove stale socket " + socket_path);

  std::string pid = std::to_string(::getpid());
  if (::ftruncate(lock_fd_.get(), 0) == 0) {
    ssize_t n = ::pwrite(lock_fd_.get(), pid.data(), pid.size(), 0);
    (void)n;
  }
}

SocketGuard::~SocketGuard() {
  ::unlink(socket_path_.c_str());
  if (lock_fd_) {
    if (::ftruncate(lock_fd_.get(), 0) != 0) {
    }
  }
}

void SocketGuard::restrict_permissions() const {
  if (::chmod(socket_path_.c_str(), 0660) != 0) throw_errno("chmod " + socket_path_);
  if (::chown(socket_path_.c_str(), 0, 0) != 0) throw_errno("chown " + socket_path_);
}

}  // namespace crisp::cri
