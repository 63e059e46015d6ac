#pragma once
// crispd's side of the per-container monitors: an epoll thread that watches monitor processes
// through pidfds and reports each exit once.
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "runtime/base/unique_fd.h"

namespace crisp::runtime {

class ExitWatcher {
 public:
  // on_exit(key) runs on the watcher thread, once per watched process that exits.
  explicit ExitWatcher(std::function<void(const std::string& key)> on_exit);
  ~ExitWatcher();  // stops the thread; watched processes keep running
  ExitWatcher(const ExitWatcher&) = delete;
  ExitWatcher& operator=(const ExitWatcher&) = delete;

  // Watches a pidfd (takes ownership). Replaces an earlier watch of the same key.
  void watch(const std::string& key, UniqueFd pidfd);
  void unwatch(const std::string& key);

 private:
  void loop();

  std::function<void(const std::string&)> on_exit_;
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd that stops the loop
  std::mutex mu_;  // guards watched_ and tokens_, next_token_
  struct Watched {
    UniqueFd pidfd;
    uint64_t token = 0;
  };
  std::map<std::string, Watched> watched_;
  std::map<uint64_t, std::string> tokens_;
  uint64_t next_token_ = 1;
  std::thread thread_;
};

}  // namespace crisp::runtime
