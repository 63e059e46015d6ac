#pragma once
// du for a directory tree: allocated bytes and inodes, hardlinked inodes counted once.
#include <cstdint>
#include <string>

namespace crisp::snapshot {

struct Usage {
  uint64_t bytes = 0;   // allocated (st_blocks * 512)
  uint64_t inodes = 0;  // distinct inodes, the directory itself included
};

// Walks the tree below `path` without following symlinks. A missing path is zero usage.
Usage disk_usage(const std::string& path);

}  // namespace crisp::snapshot
