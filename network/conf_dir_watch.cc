#include "network/conf_dir_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/base/error.h"

namespace crisp::network {

ConfDirWatch::ConfDirWatch(std::string dir) : dir_(std::move(dir)) {
  inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_) throw_errno("inotify_init1");
}

bool ConfDirWatch::changed() {
  bool changed = std::exchange(first_, false);
  alignas(inotify_event) char buf[4096];
  for (;;) {
    ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
    if (n <= 0) break;
    changed = true;
    for (ssize_t off = 0; off < n;) {
      auto* event = reinterpret_cast<inotify_event*>(buf + off);
      if (event->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
        if (watch_ >= 0 && event->wd == watch_) {
          if (!(event->mask & IN_IGNORED)) ::inotify_rm_watch(inotify_.get(), watch_);
          watch_ = -1;
        }
      }
      off += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
  if (watch_ < 0) {
    watch_ = ::inotify_add_watch(inotify_.get(), dir_.c_str(),
                                 IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO |
                                     IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
    if (watch_ >= 0) changed = true;  // appeared (or first time): content unknown
  }
  return changed;
}

}  // namespace crisp::network
