#pragma once
// Reading and writing cgroup control files, shared by the cgroupfs and systemd drivers.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace crisp::cgroups {

// Writes value to <dir>/<file> in one write() (cgroup files take one value per write).
// EINVAL/ERANGE from the kernel -> kInvalidArgument naming the file and value; other errors
// kInternal; a missing file -> kNotFound.
void write_cgroup_file(const std::string& dir, const std::string& file, const std::string& value);
// Whole content; nullopt when the file does not exist.
std::optional<std::string> read_cgroup_file(const std::string& dir, const std::string& file);
// A single number file ("12345\n"); "max" -> nullopt; missing file -> nullopt.
std::optional<uint64_t> read_cgroup_number(const std::string& dir, const std::string& file);
// "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control).
std::map<std::string, uint64_t> parse_flat_keyed(const std::string& content);

bool path_exists(const std::string& path);
// mkdir -p; returns true when the last component was created by this call.
bool make_cgroup_dir(const std::string& path);
// rmdir of a cgroup directory, retried (EBUSY while its tasks exit) until timeout. Child
// cgroups are removed first (depth first). Missing is fine. Throws kFailedPrecondition.
void remove_cgroup_dir(const std::string& path, std::chrono::milliseconds timeout);
// Joins a cgroup path (starting with '/') to a hierarchy directory.
std::string join_cgroup_path(const std::string& hierarchy, const std::string& cgroup_path);
// Normalizes a cgroupfs path: leading '/', no trailing '/', no empty or "." components;
// ".." -> kInvalidArgument.
std::string normalize_cgroup_path(const std::string& path);

}  // namespace crisp::cgroups
