#pragma once
// Small filesystem helpers shared by every library. All throw crisp::Error.
#include <cstdint>
#include <optional>
#include <string>

namespace crisp {

// Crash-safe replace: write to "<path>.tmp-XXXXXX", fsync, rename over path, fsync the directory.
// A reader sees either the old or the new content, never a mix.
void atomic_write_file(const std::string& path, const std::string& data, unsigned mode = 0644);

// Whole file as a string; kNotFound if it does not exist.
std::string read_file(const std::string& path);
// Same, but nullopt when the file does not exist.
std::optional<std::string> read_file_if_exists(const std::string& path);

// mkdir -p with the given mode for created directories.
void make_dirs(const std::string& path, unsigned mode = 0755);

// rm -rf that does not cross mount points it finds (it fails on a busy mount rather than
// deleting through it). Missing path is not an error.
void remove_tree(const std::string& path);

// Random lowercase hex string of 2*bytes characters (64 for ids).
std::string random_hex(size_t bytes = 32);

// fsync a directory by path.
void fsync_dir(const std::string& path);

}  // namespace crisp
