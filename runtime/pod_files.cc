#include "runtime/pod_files.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/state_store.h"

namespace crisp::runtime {

PodFilePaths pod_file_paths(const std::string& sandbox_dir, bool own_ipc) {
  return PodFilePaths{sandbox_dir + "/hostname", sandbox_dir + "/hosts", sandbox_dir + "/resolv.conf",
                      own_ipc ? sandbox_dir + "/shm" : std::string("/dev/shm")};
}

std::string resolv_conf_text(const DnsConfig& dns) {
  std::string text;
  if (!dns.searches.empty()) {
    text += "search";
    for (const auto& s : dns.searches) text += " " + s;
    text += "\n";
  }
  for (const auto& server : dns.servers) text += "nameserver " + server + "\n";
  if (!dns.options.empty()) {
    text += "options";
    for (const auto& o : dns.options) text += " " + o;
    text += "\n";
  }
  return text;
}

void write_pod_files(const std::string& sandbox_dir, const std::string& hostname, const DnsConfig& dns) {
  auto paths = pod_file_paths(sandbox_dir, true);
  write_state_file(paths.hostname, hostname + "\n", 0644);
  std::string hosts =
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "fe00::0\tip6-mcastprefix\n"
      "fe00::1\tip6-allnodes\n"
      "fe00::2\tip6-allrouters\n";
  if (!hostname.empty()) hosts += "127.0.1.1\t" + hostname + "\n";
  write_state_file(paths.hosts, hosts, 0644);
  std::string resolv;
  if (!dns.servers.empty() || !dns.searches.empty() || !dns.options.empty()) {
    resolv = resolv_conf_text(dns);
  } else {
    resolv = read_file_if_exists("/etc/resolv.conf").value_or("");
  }
  write_state_file(paths.resolv_conf, resolv, 0644);
}

void mount_pod_shm(const std::string& sandbox_dir) {
  std::string shm = sandbox_dir + "/shm";
  if (::mkdir(shm.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("mkdir " + shm);
  if (::mount("shm", shm.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") != 0) {
    throw_errno("mount the pod's /dev/shm at " + shm);
  }
}

void unmount_pod_shm(const std::string& sandbox_dir) {
  std::string shm = sandbox_dir + "/shm";
  if (::umount2(shm.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    throw_errno("unmount " + shm);
  }
  if (::rmdir(shm.c_str()) != 0 && errno != ENOENT) throw_errno("rmdir " + shm);
}

}  // namespace crisp::runtime
