#pragma once
// Bytes and inodes a directory tree uses (a container's writable layer for ContainerStats).
#include <cstdint>
#include <string>

namespace crisp::runtime {

struct DiskUsage {
  uint64_t bytes = 0;   // allocated blocks * 512
  uint64_t inodes = 0;  // distinct inodes, the directory itself included
};

// Walks path without following symlinks or crossing into other filesystems; hard links count
// once. A missing path is zero usage.
DiskUsage directory_usage(const std::string& path);

}  // namespace crisp::runtime
