#pragma once
// Devices for the device cgroup: host devices named in the CRI `devices` list, and the rules that
// allow them (v1 devices.allow/devices.deny lines; v2 needs an eBPF program, see
// device_rules_v2 in the cgroup v2 driver).
#include <cstdint>
#include <string>
#include <vector>

namespace crisp::cgroups {

// One device cgroup rule, like OCI linux.resources.devices[].
struct DeviceRule {
  bool allow = true;
  char type = 'a';      // 'a' (all), 'c' or 'b'
  int64_t major = -1;   // -1 = any ('*')
  int64_t minor = -1;   // -1 = any
  std::string access = "rwm";  // subset of "rwm"
};

// A host device as stat() sees it.
struct HostDevice {
  std::string path;
  char type = 'c';  // 'c' or 'b'
  uint32_t major = 0;
  uint32_t minor = 0;
  uint32_t mode = 0;  // permission bits
  uint32_t uid = 0;
  uint32_t gid = 0;
};

// stat()s path (following symlinks, as kubelet device paths are often links). Throws kNotFound
// when missing, kInvalidArgument when not a character or block device.
HostDevice stat_host_device(const std::string& path);

// Every character and block device under a directory (default /dev), recursively, skipping
// /dev/pts, /dev/shm, /dev/mqueue and symlinks: the devices of a privileged container.
std::vector<HostDevice> list_host_devices(const std::string& dir = "/dev");

// Validates CRI permissions: non-empty subset of "rwm" without repeats; kInvalidArgument.
void validate_device_permissions(const std::string& permissions);

// The device cgroup line for v1: "c 1:3 rwm", "a *:* rwm", "b 8:* r".
std::string device_rule_line(const DeviceRule& rule);

// runc's default allow-list for containers: deny all, then null, zero, full, random, urandom,
// tty, console, ptmx, /dev/pts/*, and "c *:* m" / "b *:* m" (mknod).
std::vector<DeviceRule> default_device_rules();

// The rule allowing one host device with the given permissions.
DeviceRule allow_rule_for(const HostDevice& device, const std::string& permissions);

}  // namespace crisp::cgroups
