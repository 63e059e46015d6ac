#pragma once
// Watches the CNI conf dir with inotify, polled without a thread: changed() drains pending
// events and says whether the directory's content may have changed since the last call. A
// directory that does not exist yet is re-tried on every call (one failing syscall).
#include <string>

#include "runtime/base/unique_fd.h"

namespace crisp::network {

class ConfDirWatch {
 public:
  explicit ConfDirWatch(std::string dir);
  // True on the first call, after any event in the directory, and when a watch (re)starts.
  bool changed();

 private:
  std::string dir_;
  UniqueFd inotify_;
  int watch_ = -1;
  bool first_ = true;
};

}  // namespace crisp::network
