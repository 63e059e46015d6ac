#pragma once
// Mounting a snapshot's mount description (overlay or read-only bind) and unmounting it.
#include <string>
#include <vector>

namespace crisp::snapshot {

// What a container's rootfs mount is: like containerd's mount.Mount and the OCI runtime spec's
// mounts entries. For overlay: options "lowerdir=<top>:...:<base>", "upperdir=", "workdir=",
// "volatile"; for a one-layer read-only view: type "bind", options "rbind", "ro".
struct Mount {
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

// Mounts `mount` on target. Overlay goes through the new mount API (fsopen + "lowerdir+" per
// layer, so there is no page-size limit on the number of layers); on kernels without it
// (before 6.8), mount(2), with each layer named /proc/self/fd/<n> of an O_PATH descriptor when
// the option string does not fit in a page (~200 layers fit). If the kernel rejects
// "volatile" it is dropped. Throws crisp::Error.
void mount_snapshot(const Mount& mount, const std::string& target);

// umount2(target); a busy mount is detached (MNT_DETACH). Not mounted / missing is not an error.
void unmount_snapshot(const std::string& target);

// Tests only: force (or stop forcing) the mount(2) path used on kernels before 6.8.
void set_legacy_overlay_mount_for_testing(bool legacy);

// True if target is a mount point listed in /proc/self/mountinfo.
bool is_mount_point(const std::string& target);

}  // namespace crisp::snapshot
