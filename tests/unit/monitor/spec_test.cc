// The bundle spec: what crispd writes (spec.h) is what the monitor reads (spec_parse.h).
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/base/error.h"
#include "runtime/monitor/spec.h"
#include "runtime/monitor/spec_parse.h"

namespace crisp::monitor {
namespace {

// Parses text with the monitor's parser; keeps the buffer alive with the result.
struct Parsed {
  std::vector<char> buf;
  ParsedSpec spec{};
  std::string error;
  bool ok = false;
};

Parsed parse(const std::string& text, bool process_only = false) {
  Parsed p;
  p.buf.assign(text.begin(), text.end());
  p.buf.push_back('\0');
  char err[512];
  p.ok = parse_spec(p.buf.data(), text.size(), process_only, &p.spec, err, sizeof(err));
  if (!p.ok) p.error = err;
  return p;
}

BundleSpec full_spec() {
  BundleSpec s;
  s.process.args = {"sh", "-c", "echo 'a b'  100% - done\n", "-", ""};
  s.process.env = {"PATH=/bin", "EMPTY=", "SPACE=a b\tc"};
  s.process.cwd = "/work dir";
  s.process.uid = 1000;
  s.process.gid = 2000;
  s.process.additional_gids = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  s.process.terminal = true;
  s.process.stdin = true;
  s.process.stdin_once = true;
  s.process.no_new_privs = false;
  s.process.cap_bounding = 0xa80425fbULL;
  s.process.cap_effective = 0x1ULL;
  s.process.cap_permitted = 0x8000000000000001ULL;
  s.process.cap_inheritable = 0;
  s.process.cap_ambient = 0x400;
  s.process.seccomp_bpf_path = "/var/lib/crisp/seccomp/abc.bpf";
  s.process.has_oom_score_adj = true;
  s.process.oom_score_adj = -998;
  s.process.rlimits = {{RLIMIT_NOFILE, 1024, 4096}, {RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY}};
  s.rootfs = "/run/crisp/containers/x/rootfs";
  s.readonly_rootfs = true;
  s.rootfs_propagation = "rprivate";
  s.net = {NamespaceMode::kJoin, "/run/crisp/sandboxes/p/ns/net"};
  s.ipc = {NamespaceMode::kNew, ""};
  s.uts = {NamespaceMode::kHost, ""};
  s.pid = {NamespaceMode::kJoin, "/proc/42/ns/pid"};
  s.cgroup = {NamespaceMode::kNew, ""};
  s.hostname = "pod-1";
  s.mounts = {
      {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}, ""},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}, ""},
      {"/etc/hosts", "bind", "/var/lib/crisp/pods/p/hosts", {"rbind", "ro", "rslave"}, ""},
      {"/data dir", "", "/host path", {"bind", "rro", "rw"}, "x=1"},
  };
  s.default_devices = true;
  s.devices = {{"/dev/fuse", 'c', 10, 229, 0660, 0, 5}, {"/dev/sda", 'b', 8, 0, 0600, 1, 2}};
  s.masked_paths = {"/proc/kcore", "/sys/firmware"};
  s.readonly_paths = {"/proc/sys"};
  s.cgroup_procs = {"/sys/fs/cgroup/memory/crisp/x/cgroup.procs"};
  s.log_path = "/var/log/pods/p/c/0.log";
  s.log_max_line = 100;
  s.exit_file = "/run/exit";
  s.pid_file = "/run/pid";
  s.control_socket = "/run/c.sock";
  return s;
}

TEST(SpecTest, RoundTripsEveryField) {
  BundleSpec s = full_spec();
  std::string text = encode_bundle_spec(s);
  Parsed p = parse(text);
  ASSERT_TRUE(p.ok) << p.error << "\n" << text;
  const ParsedSpec& r = p.spec;
  const ParsedProcess& pr = r.process;
  ASSERT_EQ(pr.arg_count, s.process.args.size());
  for (size_t i = 0; i < s.process.args.size(); ++i) EXPECT_EQ(pr.args[i], s.process.args[i]);
  EXPECT_EQ(pr.args[pr.arg_count], nullptr);
  ASSERT_EQ(pr.env_count, s.process.env.size());
  for (size_t i = 0; i < s.process.env.size(); ++i) EXPECT_EQ(pr.env[i], s.process.env[i]);
  EXPECT_EQ(pr.env[pr.env_count], nullptr);
  EXPECT_STREQ(pr.cwd, "/work dir");
  EXPECT_EQ(pr.uid, 1000u);
  EXPECT_EQ(pr.gid, 2000u);
  ASSERT_EQ(pr.additional_gid_count, 11u);
  for (uint32_t i = 0; i < 11; ++i) EXPECT_EQ(pr.additional_gids[i], i + 1);
  EXPECT_TRUE(pr.terminal);
  EXPECT_TRUE(pr.stdin);
  EXPECT_TRUE(pr.stdin_once);
  EXPECT_FALSE(pr.no_new_privs);
  EXPECT_EQ(pr.cap_bounding, s.process.cap_bounding);
  EXPECT_EQ(pr.cap_effective, s.process.cap_effective);
  EXPECT_EQ(pr.cap_permitted, s.process.cap_permitted);
  EXPECT_EQ(pr.cap_inheritable, 0u);
  EXPECT_EQ(pr.cap_ambient, 0x400u);
  EXPECT_STREQ(pr.seccomp_bpf_path, "/var/lib/crisp/seccomp/abc.bpf");
  EXPECT_TRUE(pr.has_oom_score_adj);
  EXPECT_EQ(pr.oom_score_adj, -998);
  ASSERT_EQ(pr.rlimit_count, 2u);
  EXPECT_EQ(pr.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(pr.rlimits[0].soft, 1024u);
  EXPECT_EQ(pr.rlimits[0].hard, 4096u);
  EXPECT_EQ(pr.rlimits[1].soft, RLIM_INFINITY);

  EXPECT_STREQ(r.rootfs, "/run/crisp/containers/x/rootfs");
  EXPECT_TRUE(r.readonly_rootfs);
  EXPECT_EQ(r.rootfs_propagation, static_cast<unsigned long>(MS_PRIVATE | MS_REC));
  EXPECT_EQ(r.net.mode, kNsJoin);
  EXPECT_STREQ(r.net.path, "/run/crisp/sandboxes/p/ns/net");
  EXPECT_EQ(r.ipc.mode, kNsNew);
  EXPECT_EQ(r.uts.mode, kNsHost);
  EXPECT_EQ(r.pid.mode, kNsJoin);
  EXPECT_STREQ(r.pid.path, "/proc/42/ns/pid");
  EXPECT_EQ(r.cgroup.mode, kNsNew);
  EXPECT_STREQ(r.hostname, "pod-1");

  ASSERT_EQ(r.mount_count, 4u);
  EXPECT_STREQ(r.mounts[0].destination, "/proc");
  EXPECT_STREQ(r.mounts[0].type, "proc");
  EXPECT_STREQ(r.mounts[0].source, "proc");
  EXPECT_EQ(r.mounts[0].flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC | MS_NODEV));
  EXPECT_EQ(r.mounts[0].data, nullptr);
  EXPECT_EQ(r.mounts[1].flags, static_cast<unsigned long>(MS_NOSUID | MS_STRICTATIME));
  EXPECT_STREQ(r.mounts[1].data, "mode=755,size=65536k");
  EXPECT_EQ(r.mounts[2].flags, static_cast<unsigned long>(MS_BIND | MS_REC | MS_RDONLY));
  EXPECT_EQ(r.mounts[2].propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_STREQ(r.mounts[3].destination, "/data dir");
  EXPECT_EQ(r.mounts[3].type, nullptr);
  EXPECT_STREQ(r.mounts[3].source, "/host path");
  // "rw" after "rro" clears MS_RDONLY again but the recursive attribute request stays.
  EXPECT_EQ(r.mounts[3].flags, static_cast<unsigned long>(MS_BIND));
  EXPECT_TRUE(r.mounts[3].recursive_readonly);
  EXPECT_STREQ(r.mounts[3].data, "x=1");

  EXPECT_TRUE(r.default_devices);
  ASSERT_EQ(r.device_count, 2u);
  EXPECT_STREQ(r.devices[0].path, "/dev/fuse");
  EXPECT_EQ(r.devices[0].mode, static_cast<uint32_t>(S_IFCHR | 0660));
  EXPECT_EQ(r.devices[0].major, 10u);
  EXPECT_EQ(r.devices[0].minor, 229u);
  EXPECT_EQ(r.devices[0].gid, 5u);
  EXPECT_EQ(r.devices[1].mode, static_cast<uint32_t>(S_IFBLK | 0600));
  EXPECT_EQ(r.devices[1].uid, 1u);
  ASSERT_EQ(r.masked_path_count, 2u);
  EXPECT_STREQ(r.masked_paths[1], "/sys/firmware");
  ASSERT_EQ(r.readonly_path_count, 1u);
  EXPECT_STREQ(r.readonly_paths[0], "/proc/sys");
  ASSERT_EQ(r.cgroup_procs_count, 1u);
  EXPECT_STREQ(r.cgroup_procs[0], "/sys/fs/cgroup/memory/crisp/x/cgroup.procs");
  EXPECT_STREQ(r.log_path, "/var/log/pods/p/c/0.log");
  EXPECT_EQ(r.log_max_line, 100u);
  EXPECT_STREQ(r.exit_file, "/run/exit");
  EXPECT_STREQ(r.pid_file, "/run/pid");
  EXPECT_STREQ(r.control_socket, "/run/c.sock");
}

TEST(SpecTest, DefaultsOfAMinimalSpec) {
  BundleSpec s;
  s.process.args = {"true"};
  s.rootfs = "/r";
  Parsed p = parse(encode_bundle_spec(s));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_STREQ(p.spec.process.cwd, "/");
  EXPECT_TRUE(p.spec.process.no_new_privs);
  EXPECT_EQ(p.spec.net.mode, kNsHost);
  EXPECT_EQ(p.spec.log_path, nullptr);
  EXPECT_EQ(p.spec.log_max_line, kDefaultLogMaxLine);
  EXPECT_EQ(p.spec.exit_file, nullptr);
  EXPECT_EQ(p.spec.rootfs_propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(p.spec.hostname, nullptr);
  EXPECT_TRUE(p.spec.default_devices);
}

TEST(SpecTest, ProcessSpecRoundTripsAndRejectsContainerKeys) {
  ProcessSpec proc;
  proc.args = {"ls", "-l"};
  proc.env = {"A=1"};
  proc.uid = 5;
  Parsed p = parse(encode_process_spec(proc), true);
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.spec.process.arg_count, 2u);
  EXPECT_EQ(p.spec.process.uid, 5u);

  BundleSpec s;
  s.process.args = {"true"};
  s.rootfs = "/r";
  Parsed q = parse(encode_bundle_spec(s), true);
  EXPECT_FALSE(q.ok);
  EXPECT_NE(q.error.find("not a process key"), std::string::npos) << q.error;
}

TEST(SpecTest, RejectsBadInput) {
  EXPECT_FALSE(parse("").ok);
  EXPECT_FALSE(parse("crisp-spec 2\nend\n").ok);
  EXPECT_NE(parse("crisp-spec 1\narg true\nrootfs /r\n").error.find("truncated"),
            std::string::npos);
  EXPECT_NE(parse("crisp-spec 1\narg true\nrootfs /r\nbogus 1\nend\n").error.find("unknown key"),
            std::string::npos);
  EXPECT_NE(parse("crisp-spec 1\narg true\nrootfs /r\nuser x 0\nend\n").error.find("line 4"),
            std::string::npos);
  EXPECT_FALSE(parse("crisp-spec 1\narg a%2\nrootfs /r\nend\n").ok);
  EXPECT_FALSE(parse("crisp-spec 1\narg a\nrootfs /r\nmount rel proc proc - -\nend\n").ok);
  EXPECT_FALSE(parse("crisp-spec 1\nrootfs /r\nend\n").ok);  // no args
  EXPECT_FALSE(parse("crisp-spec 1\narg a\nrootfs /r\nnamespace net join\nend\n").ok);
  EXPECT_FALSE(parse("crisp-spec 1\narg a\nrootfs /r\nend\narg b\n").ok);

  BundleSpec s;
  EXPECT_THROW(encode_bundle_spec(s), Error);  // no args, no rootfs
  s.process.args = {std::string("a\0b", 3)};
  s.rootfs = "/r";
  EXPECT_THROW(encode_bundle_spec(s), Error);
}

TEST(SpecTest, EscapesFields) {
  EXPECT_EQ(escape_spec_field(""), "-");
  EXPECT_EQ(escape_spec_field("-"), "%2D");
  EXPECT_EQ(escape_spec_field("a b%\n"), "a%20b%25%0A");
  char field[] = "a%20b%25%0A";
  ASSERT_TRUE(unescape_spec_field(field));
  EXPECT_STREQ(field, "a b%\n");
}

}  // namespace
}  // namespace crisp::monitor
