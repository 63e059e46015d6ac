#pragma once
// Path handling for layer extraction: every file of a layer is reached from the layer root's fd
// with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), never by joining
// host path strings. A layer may not write through a symlink, not even one inside the layer.
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/unique_fd.h"

namespace crisp::layer {

// Splits a tar entry name into components: a leading "/" and "." / empty components are dropped
// (entries are always rooted, like containerd). Throws kInvalidArgument on a ".." component, an
// over-long name or a component longer than NAME_MAX. An empty result names the layer root.
std::vector<std::string> split_entry_path(std::string_view name);

// Joins components with "/" (for messages and openat2 lookups relative to the root fd).
std::string join_components(const std::vector<std::string>& components, size_t count);

// openat2(root_fd, relative, flags, resolve = IN_ROOT|NO_SYMLINKS|NO_MAGICLINKS|NO_XDEV).
// Returns an invalid fd with errno set on failure.
UniqueFd open_in_root(int root_fd, const std::string& relative, int flags, unsigned mode = 0);

// Opens directory components[0..count) below root_fd, creating missing ones (mode 0755) one
// component at a time. Throws kInvalidArgument (naming `entry`) if a component is a symlink or not
// a directory.
UniqueFd open_or_create_dirs(int root_fd, const std::vector<std::string>& components, size_t count,
                             const std::string& entry);

// Removes `name` below dir_fd: unlink, or a recursive removal of a directory (fd-based, never
// following symlinks, never crossing into another filesystem). Missing name is not an error.
void remove_at(int dir_fd, const std::string& name);

}  // namespace crisp::layer
