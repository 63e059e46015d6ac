#pragma once
// Network namespace helpers. Entering a netns switches only the calling thread; the guard
// switches it back (and aborts the process if it cannot: a thread left in a pod's netns would
// silently do the daemon's work in the wrong namespace).
#include <string>

#include "runtime/base/unique_fd.h"

namespace crisp::network {

// Opens a pinned netns file (or /proc/<pid>/ns/net). kNotFound if it does not exist,
// kInvalidArgument if it is not a network namespace.
UniqueFd open_netns(const std::string& path);
// True if path exists and is a network namespace.
bool netns_exists(const std::string& path);

class NetnsEntry {
 public:
  explicit NetnsEntry(int netns_fd);  // enters; throws on failure (thread unchanged)
  ~NetnsEntry();                      // returns the thread to its previous netns
  NetnsEntry(const NetnsEntry&) = delete;
  NetnsEntry& operator=(const NetnsEntry&) = delete;

 private:
  UniqueFd previous_;
};

}  // namespace crisp::network
