// Integration (root): a 3-layer chain with OCI whiteouts applied by the snapshotter, mounted as
// a container's overlay rootfs; the merged view must be what the image means.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "image/snapshot/snapshotter.h"
#include "runtime/base/cleanup.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"
#include "tests/unit/snapshots/test_layers.h"

namespace crisp::snapshot {
namespace {

using crisp::testing::Compression;
using crisp::testing::TarEntry;
using crisp::testing::TempDir;

struct TestLayer {
  std::string blob;
  std::string diff_id;
};

TestLayer make_test_layer(const std::vector<TarEntry>& entries) {
  std::string tar = crisp::testing::make_layer(entries);
  return {crisp::testing::compress(tar, Compression::kGzip), crisp::testing::sha256_hex(tar)};
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Mount points whose path contains `needle`, from /proc/self/mountinfo.
std::vector<std::string> mounts_under(const std::string& needle) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> found;
  std::string line;
  while (std::getline(in, line))
    if (line.find(needle) != std::string::npos) found.push_back(line);
  return found;
}

class OverlaySnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (overlay mounts, whiteouts)";
    make_dirs(target_);
  }
  void TearDown() override {
    // Whatever happened, leave no mount behind (TempDir refuses to delete through one).
    for (int i = 0; i < 4 && is_mount_point(target_); ++i) ::umount2(target_.c_str(), MNT_DETACH);
    EXPECT_TRUE(mounts_under(tmp_.path()).empty());
  }

  ChainInfo apply(Snapshotter& s, const std::string& parent, const TestLayer& layer) {
    return s.apply(chain_id(parent, layer.diff_id), parent,
                   crisp::testing::string_reader(layer.blob, 32768));
  }

  TempDir tmp_;
  std::string root_ = tmp_.path() + "/root";
  std::string target_ = tmp_.path() + "/rootfs";
};

TEST_F(OverlaySnapshotTest, ThreeLayerChainMountedAsContainerRootfs) {
  TarEntry passwd = crisp::testing::file("etc/passwd", "root:x:0:0:base\n");
  TestLayer base = make_test_layer(
      {crisp::testing::dir("etc"), passwd, crisp::testing::file("etc/delete-me", "gone soon"),
       crisp::testing::dir("opt"), crisp::testing::file("opt/old1", "1"),
       crisp::testing::file("opt/old2", "2"), crisp::testing::dir("bin"),
       crisp::testing::file("bin/tool", "tool", 0755), crisp::testing::file("keep", "kept")});
  TestLayer second = make_test_layer(
      {crisp::testing::file("etc/.wh.delete-me", ""),
       crisp::testing::file("etc/passwd", "root:x:0:0:second\n"), crisp::testing::dir("opt"),
       crisp::testing::file("opt/.wh..wh..opq", ""), crisp::testing::file("opt/new", "new"),
       crisp::testing::file(".wh.bin", ""), crisp::testing::file(".wh..wh.plnk", "")});
  TestLayer third = make_test_layer(
      {crisp::testing::dir("data"), crisp::testing::file("data/a", "shared"),
       crisp::testing::hardlink("data/b", "data/a"), crisp::testing::hardlink("data/c", "data/a")});

  Snapshotter s(root_);
  EXPECT_EQ(s.recover(), 0u);
  ChainInfo c1 = apply(s, "", base);
  ChainInfo c2 = apply(s, c1.chain_id, second);
  ChainInfo c3 = apply(s, c2.chain_id, third);
  EXPECT_EQ(chain_ids({base.diff_id, second.diff_id, third.diff_id}),
            (std::vector<std::string>{c1.chain_id, c2.chain_id, c3.chain_id}));

  // The second layer's whiteouts are overlay whiteouts on disk.
  const std::string second_fs = root_ + "/snapshots/chains/" + c2.chain_id.substr(7) + "/fs";
  struct stat st;
  ASSERT_EQ(::lstat((second_fs + "/etc/delete-me").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, ::makedev(0, 0));
  ASSERT_EQ(::lstat((second_fs + "/bin").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  char opaque[8] = {};
  EXPECT_EQ(
      ::getxattr((second_fs + "/opt").c_str(), "trusted.overlay.opaque", opaque, sizeof opaque), 1);
  EXPECT_EQ(opaque[0], 'y');
  EXPECT_FALSE(exists(second_fs + "/opt/.wh..wh..opq"));
  EXPECT_FALSE(exists(second_fs + "/.wh..wh.plnk"));
  EXPECT_FALSE(exists(second_fs + "/plnk"));

  Mount description = s.prepare("ctr1", c3.chain_id);
  EXPECT_EQ(description.type, "overlay");
  s.mount("ctr1", target_);
  ASSERT_TRUE(is_mount_point(target_));

  // What the container sees.
  EXPECT_FALSE(exists(target_ + "/etc/delete-me"));
  EXPECT_EQ(read_file(target_ + "/etc/passwd"), "root:x:0:0:second\n");
  EXPECT_EQ(crisp::testing::dir_entries(target_ + "/opt"), std::vector<std::string>{"new"});
  EXPECT_FALSE(exists(target_ + "/bin"));
  EXPECT_EQ(read_file(target_ + "/keep"), "kept");
  struct stat a, b, c;
  ASSERT_EQ(::stat((target_ + "/data/a").c_str(), &a), 0);
  ASSERT_EQ(::stat((target_ + "/data/b").c_str(), &b), 0);
  ASSERT_EQ(::stat((target_ + "/data/c").c_str(), &c), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_ino, c.st_ino);
  EXPECT_EQ(a.st_nlink, 3u);
  EXPECT_EQ(read_file(target_ + "/data/b"), "shared");

  // Writes land in the container's upper layer and are counted.
  Usage before = s.usage("ctr1");
  atomic_write_file(target_ + "/written", std::string(1 << 20, 'w'));
  ASSERT_EQ(::unlink((target_ + "/keep").c_str()), 0);
  Usage after = s.usage("ctr1");
  EXPECT_GE(after.bytes, before.bytes + (1u << 20));
  EXPECT_GE(after.inodes, before.inodes + 2);  // the file and the whiteout of "keep"
  EXPECT_TRUE(exists(root_ + "/snapshots/containers/ctr1/upper/written"));
  SnapshotsUsage total = s.usage();
  EXPECT_GE(total.containers.bytes, 1u << 20);
  EXPECT_GE(total.chains.inodes, 15u);

  // Unmount, mount again (a volatile overlay leaves a flag that blocks a remount), unmount.
  Snapshotter::unmount(target_);
  EXPECT_FALSE(is_mount_point(target_));
  EXPECT_TRUE(exists(root_ + "/snapshots/containers/ctr1/work/work/incompat/volatile"))
      << "the overlay was not mounted volatile";
  s.mount("ctr1", target_);
  EXPECT_EQ(read_file(target_ + "/written"), std::string(1 << 20, 'w'));
  EXPECT_FALSE(exists(target_ + "/keep"));
  Snapshotter::unmount(target_);
  Snapshotter::unmount(target_);  // idempotent

  EXPECT_THROW(s.remove_chain(c1.chain_id), Error);
  s.mount("ctr1", target_);
  try {
    s.remove("ctr1");
    ADD_FAILURE() << "removed a mounted container snapshot";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
  }
  Snapshotter::unmount(target_);
  s.remove("ctr1");
  EXPECT_FALSE(exists(root_ + "/snapshots/containers/ctr1"));
  s.remove_chain(c3.chain_id);
  s.remove_chain(c2.chain_id);
  s.remove_chain(c1.chain_id);
  for (const char* sub : {"chains", "containers", "tmp"})
    EXPECT_TRUE(crisp::testing::dir_entries(root_ + "/snapshots/" + sub).empty()) << sub;
  EXPECT_TRUE(mounts_under(tmp_.path()).empty());
}

TEST_F(OverlaySnapshotTest, DeviceNodesFifosAndOwnership) {
  TarEntry null_dev;
  null_dev.path = "dev/null";
  null_dev.type = AE_IFCHR;
  null_dev.mode = 0666;
  TarEntry fifo;
  fifo.path = "run/fifo";
  fifo.type = AE_IFIFO;
  fifo.mode = 0620;
  fifo.uid = 7;
  fifo.gid = 8;
  TarEntry owned = crisp::testing::dir("home/user", 0700);
  owned.uid = 1000;
  owned.gid = 1000;
  std::string tar = crisp::testing::make_layer({null_dev, fifo, owned});
  // make_layer has no rdev field: patch it in through libarchive by rebuilding with rdev 1:3.
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  std::string with_rdev;
  archive_write_open(
      a, &with_rdev, nullptr,
      [](struct archive*, void* o, const void* b, size_t n) -> la_ssize_t {
        static_cast<std::string*>(o)->append(static_cast<const char*>(b), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "dev/null");
  archive_entry_set_filetype(e, AE_IFCHR);
  archive_entry_set_perm(e, 0666);
  archive_entry_set_rdev(e, ::makedev(1, 3));
  archive_write_header(a, e);
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);

  TempDir out;
  layer::apply_layer(crisp::testing::string_reader(tar), out.path() + "/a");
  layer::apply_layer(crisp::testing::string_reader(with_rdev), out.path() + "/b");
  struct stat st;
  ASSERT_EQ(::lstat((out.path() + "/a/run/fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0620u);
  EXPECT_EQ(st.st_uid, 7u);
  EXPECT_EQ(st.st_gid, 8u);
  ASSERT_EQ(::lstat((out.path() + "/a/home/user").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(st.st_uid, 1000u);
  ASSERT_EQ(::lstat((out.path() + "/b/dev/null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, ::makedev(1, 3));
  EXPECT_EQ(st.st_mode & 07777, 0666u);
}

TEST_F(OverlaySnapshotTest, ReadonlyViewRefusesWrites) {
  TestLayer one = make_test_layer({crisp::testing::file("f", "1")});
  TestLayer two = make_test_layer({crisp::testing::file("g", "2")});
  Snapshotter s(root_);
  ChainInfo c1 = apply(s, "", one);
  ChainInfo c2 = apply(s, c1.chain_id, two);
  for (const auto& [key, chain] :
       {std::pair{"view1", c1.chain_id}, std::pair{"view2", c2.chain_id}}) {
    s.prepare(key, chain, true);
    s.mount(key, target_);
    EXPECT_EQ(read_file(target_ + "/f"), "1");
    std::ofstream out(target_ + "/new");
    EXPECT_FALSE(out.good()) << key << " is writable";
    out.close();
    Snapshotter::unmount(target_);
    s.remove(key);
  }
  EXPECT_TRUE(mounts_under(tmp_.path()).empty());
}

class LongChainTest : public OverlaySnapshotTest, public ::testing::WithParamInterface<bool> {};

// With the new mount API ("lowerdir+" per layer) and with mount(2) and relative paths.
TEST_P(LongChainTest, ChainLongerThanAPageOfMountOptions) {
  set_legacy_overlay_mount_for_testing(GetParam());
  Cleanup reset([] { set_legacy_overlay_mount_for_testing(false); });
  Snapshotter s(root_);
  std::string parent;
  for (int i = 0; i < 60; ++i) {
    TestLayer layer = make_test_layer({crisp::testing::file("layer" + std::to_string(i), "x"),
                                       crisp::testing::file("top", std::to_string(i))});
    parent = apply(s, parent, layer).chain_id;
  }
  Mount m = s.prepare("deep", parent);
  ASSERT_GT(m.options[0].size(), 4096u);
  s.mount("deep", target_);
  EXPECT_EQ(read_file(target_ + "/top"), "59");
  EXPECT_TRUE(exists(target_ + "/layer0"));
  EXPECT_TRUE(exists(target_ + "/layer59"));
  Snapshotter::unmount(target_);
  s.remove("deep");
}

INSTANTIATE_TEST_SUITE_P(MountApi, LongChainTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Legacy" : "FsOpen"; });

}  // namespace
}  // namespace crisp::snapshot

// Micro-benchmark (not run by default):
//   snapshots_integration_test --gtest_also_run_disabled_tests --gtest_filter='*Benchmark*'
// A ~100 MB (uncompressed) gzip layer of many small files, applied through the snapshotter.
namespace crisp::snapshot {
namespace {

TEST(SnapshotBenchmark, DISABLED_ApplyLargeGzipLayerOfSmallFiles) {
  std::vector<TarEntry> entries;
  uint64_t seed = 12345, total = 0;
  auto next = [&] { return seed = seed * 6364136223846793005ull + 1442695040888963407ull; };
  static const char* words[] = {"container ", "layer ", "snapshot ", "overlay ",
                                "kernel ",    "\n",     "0x7f3a ",   "int main() { return 0; }\n",
                                "lib",        "/usr/"};
  for (int d = 0; d < 200; ++d) {
    entries.push_back(crisp::testing::dir("usr/share/d" + std::to_string(d)));
    for (int f = 0; f < 100; ++f) {
      size_t size = 512 + next() % 9000;  // ~5 KB on average
      std::string content;
      content.reserve(size);
      // Half text, half random bytes: compresses ~2x, like a mix of binaries and text.
      while (content.size() < size) {
        content += words[next() % 10];
        uint64_t r = next();
        content.append(reinterpret_cast<const char*>(&r), 6);
      }
      total += content.size();
      entries.push_back(crisp::testing::file(
          "usr/share/d" + std::to_string(d) + "/f" + std::to_string(f), std::move(content)));
    }
  }
  std::string tar = crisp::testing::make_layer(entries);
  std::string gz = crisp::testing::compress(tar, Compression::kGzip);
  std::string diff_id = crisp::testing::sha256_hex(tar);
  entries.clear();
  std::printf("layer: %zu files, %.1f MB of file data, tar %.1f MB, gzip %.1f MB\n",
              static_cast<size_t>(20000), total / 1e6, tar.size() / 1e6, gz.size() / 1e6);

  // Extraction (the snapshotter's apply without its syncfs), then the syncfs it would do, timed
  // apart; the page cache is flushed before each run.
  // The trees are kept until the end: ext4's inode allocator slows down ~10x for a few minutes
  // after many deletions (recently_deleted() in ext4_create), which would measure the benchmark.
  std::vector<std::unique_ptr<TempDir>> trees;
  for (int run = 0; run < 3; ++run) {
    trees.push_back(std::make_unique<TempDir>());
    TempDir& tmp = *trees.back();
    ::sync();
    Snapshotter s(tmp.path());
    layer::LayerApplyOptions options;
    options.sync = false;
    auto start = std::chrono::steady_clock::now();
    s.apply(diff_id, "", crisp::testing::string_reader(gz, 65536), options);
    auto extracted = std::chrono::steady_clock::now();
    UniqueFd fd(::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_EQ(::syncfs(fd.get()), 0);
    auto synced = std::chrono::steady_clock::now();
    double apply_s = std::chrono::duration<double>(extracted - start).count();
    double sync_s = std::chrono::duration<double>(synced - extracted).count();
    std::printf(
        "run %d: apply %.3f s = %.1f MB/s of tar (%.1f MB/s of gzip); syncfs %.3f s; "
        "total %.1f MB/s of tar\n",
        run, apply_s, tar.size() / 1e6 / apply_s, gz.size() / 1e6 / apply_s, sync_s,
        tar.size() / 1e6 / (apply_s + sync_s));
  }
  // Baseline: GNU tar + gzip extracting the same blob (no fsync either), the earlier trees kept.
  {
    TempDir base;
    const std::string blob = base.path() + "/layer.tar.gz";
    atomic_write_file(blob, gz);
    make_dirs(base.path() + "/x");
    ::sync();
    auto start = std::chrono::steady_clock::now();
    int rc = std::system(("tar -xzf " + blob + " -C " + base.path() + "/x").c_str());
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_EQ(rc, 0);
    std::printf("GNU tar -xzf: %.3f s = %.1f MB/s of tar\n", seconds, tar.size() / 1e6 / seconds);
  }
}

}  // namespace
}  // namespace crisp::snapshot

// Micro-benchmark (not run by default): the container rootfs life cycle, p50/p99 per step.
namespace crisp::snapshot {
namespace {

TEST(SnapshotBenchmark, DISABLED_ContainerRootfsLifeCycle) {
  TempDir tmp;
  Snapshotter s(tmp.path() + "/root");
  std::string parent;
  for (int i = 0; i < 3; ++i) {
    std::string tar =
        crisp::testing::make_layer({crisp::testing::file("f" + std::to_string(i), "x")});
    parent = s.apply(chain_id(parent, crisp::testing::sha256_hex(tar)), parent,
                     crisp::testing::string_reader(tar))
                 .chain_id;
  }
  const std::string target = tmp.path() + "/rootfs";
  make_dirs(target);
  std::vector<double> prepare_us, mount_us, unmount_us, remove_us;
  auto micros = [](auto a, auto b) {
    return std::chrono::duration<double, std::micro>(b - a).count();
  };
  for (int i = 0; i < 200; ++i) {
    const std::string key = "c" + std::to_string(i);
    auto t0 = std::chrono::steady_clock::now();
    s.prepare(key, parent);
    auto t1 = std::chrono::steady_clock::now();
    s.mount(key, target);
    auto t2 = std::chrono::steady_clock::now();
    Snapshotter::unmount(target);
    auto t3 = std::chrono::steady_clock::now();
    s.remove(key);
    auto t4 = std::chrono::steady_clock::now();
    prepare_us.push_back(micros(t0, t1));
    mount_us.push_back(micros(t1, t2));
    unmount_us.push_back(micros(t2, t3));
    remove_us.push_back(micros(t3, t4));
  }
  auto report = [](const char* what, std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::printf("%-8s p50 %7.0f us  p99 %7.0f us\n", what, v[v.size() / 2], v[v.size() * 99 / 100]);
  };
  report("prepare", prepare_us);
  report("mount", mount_us);
  report("unmount", unmount_us);
  report("remove", remove_us);
}

}  // namespace
}  // namespace crisp::snapshot
