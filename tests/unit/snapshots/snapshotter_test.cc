#include "image/snapshot/snapshotter.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "tests/unit/snapshots/test_layers.h"

namespace crisp::snapshot {
namespace {

using crisp::testing::TempDir;

struct TestLayer {
  std::string blob;     // gzip
  std::string diff_id;  // sha256 of the tar
};

TestLayer make_test_layer(const std::vector<crisp::testing::TarEntry>& entries) {
  return {crisp::testing::make_layer(entries, crisp::testing::Compression::kGzip),
          crisp::testing::sha256_hex(crisp::testing::make_layer(entries))};
}

std::string opt(const Mount& m, const std::string& prefix) {
  for (const auto& o : m.options)
    if (o.rfind(prefix, 0) == 0) return o;
  return "";
}

class SnapshotterTest : public ::testing::Test {
 protected:
  TempDir root_;
  TestLayer base_ = make_test_layer({crisp::testing::file("etc/os-release", "base\n")});
  TestLayer top_ = make_test_layer({crisp::testing::file("app", "app\n", 0755)});
  std::string base_id_ = base_.diff_id;
  std::string top_id_ = chain_id(base_id_, top_.diff_id);
};

TEST_F(SnapshotterTest, ApplyCommitsChainDirectories) {
  Snapshotter s(root_.path());
  EXPECT_FALSE(s.has(base_id_));
  ChainInfo info = s.apply(base_id_, "", crisp::testing::string_reader(base_.blob));
  EXPECT_EQ(info.chain_id, base_id_);
  EXPECT_EQ(info.diff_id, base_.diff_id);
  EXPECT_TRUE(info.parent.empty());
  EXPECT_GT(info.size, 0u);
  EXPECT_GE(info.usage.inodes, 3u);  // fs/, etc/, os-release
  EXPECT_TRUE(s.has(base_id_));
  const std::string fs = root_.path() + "/snapshots/chains/" + base_id_.substr(7) + "/fs";
  EXPECT_EQ(read_file(fs + "/etc/os-release"), "base\n");

  ChainInfo top = s.apply(top_id_, base_id_, crisp::testing::string_reader(top_.blob));
  EXPECT_EQ(top.parent, base_id_);
  EXPECT_EQ(s.chains().size(), 2u);
  EXPECT_TRUE(crisp::testing::dir_entries(root_.path() + "/snapshots/tmp").empty());
}

TEST_F(SnapshotterTest, ApplyOfAnExistingChainDoesNotReadTheLayer) {
  Snapshotter s(root_.path());
  s.apply(base_id_, "", crisp::testing::string_reader(base_.blob));
  bool called = false;
  s.apply(base_id_, "", [&](char*, size_t) -> size_t {
    called = true;
    return 0;
  });
  EXPECT_FALSE(called);
}

TEST_F(SnapshotterTest, RefusesContentNotMatchingTheChainId) {
  Snapshotter s(root_.path());
  try {
    s.apply(top_id_, base_id_, crisp::testing::string_reader(base_.blob));
    ADD_FAILURE() << "expected a diffID mismatch";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(base_.diff_id), std::string::npos) << e.what();
  }
  EXPECT_FALSE(s.has(top_id_));
  EXPECT_TRUE(crisp::testing::dir_entries(root_.path() + "/snapshots/chains").empty());
  EXPECT_TRUE(crisp::testing::dir_entries(root_.path() + "/snapshots/tmp").empty());
}

TEST_F(SnapshotterTest, HostileLayerLeavesNothing) {
  Snapshotter s(root_.path());
  auto evil = make_test_layer({crisp::testing::file("../x", "evil")});
  EXPECT_THROW(s.apply(evil.diff_id, "", crisp::testing::string_reader(evil.blob)), Error);
  EXPECT_TRUE(crisp::testing::dir_entries(root_.path() + "/snapshots/chains").empty());
  EXPECT_TRUE(crisp::testing::dir_entries(root_.path() + "/snapshots/tmp").empty());
}

TEST_F(SnapshotterTest, ConcurrentApplyOfOneChainUnpacksOnce) {
  Snapshotter s(root_.path());
  std::atomic<int> readers_used{0};
  auto apply_one = [&] {
    auto offset = std::make_shared<size_t>(0);
    auto counted = std::make_shared<bool>(false);
    s.apply(base_id_, "", [&, offset, counted](char* buf, size_t cap) -> size_t {
      if (!*counted) {
        *counted = true;
        ++readers_used;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      size_t n = std::min(cap, base_.blob.size() - *offset);
      std::memcpy(buf, base_.blob.data() + *offset, n);
      *offset += n;
      return n;
    });
  };
  std::thread a(apply_one), b(apply_one), c(apply_one);
  a.join();
  b.join();
  c.join();
  EXPECT_EQ(readers_used.load(), 1);
  EXPECT_TRUE(s.has(base_id_));
}

TEST_F(SnapshotterTest, LayersOfOneImageApplyInParallel) {
  Snapshotter s(root_.path());
  std::thread child([&] { s.apply(top_id_, base_id_, crisp::testing::string_reader(top_.blob)); });
  std::thread parent([&] { s.apply(base_id_, "", crisp::testing::string_reader(base_.blob)); });
  child.join();
  parent.join();
  EXPECT_TRUE(s.has(top_id_));
  EXPECT_TRUE(s.has(base_id_));
}

TEST_F(SnapshotterTest, PrepareDescribesTheOverlay) {
  Snapshotter s(root_.path());
  s.apply(base_id_, "", crisp::testing::string_reader(base_.blob));
  s.apply(top_id_, base_id_, crisp::testing::string_reader(top_.blob));
  Mount m = s.prepare("c1", top_id_);
  EXPECT_EQ(m.type, "overlay");
  EXPECT_EQ(m.source, "overlay");
  const std::string chains = root_.path() + "/snapshots/chains/";
  EXPECT_EQ(opt(m, "lowerdir="), "lowerdir=" + chains + top_id_.substr(7) + "/fs:" + chains +
                                     base_id_.substr(7) + "/fs");
  EXPECT_EQ(opt(m, "upperdir="), "upperdir=" + root_.path() + "/snapshots/containers/c1/upper");
  EXPECT_EQ(opt(m, "workdir="), "workdir=" + root_.path() + "/snapshots/containers/c1/work");
  EXPECT_EQ(opt(m, "volatile"), "volatile");  // the kernels crisp runs on are >= 5.10
  struct stat st;
  EXPECT_EQ(::stat((root_.path() + "/snapshots/containers/c1/upper").c_str(), &st), 0);
  EXPECT_EQ(s.mounts("c1").options, m.options);

  auto list = s.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].key, "c1");
  EXPECT_EQ(list[0].chain_id, top_id_);

  try {
    s.prepare("c1", top_id_);
    ADD_FAILURE() << "expected kAlreadyExists";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kAlreadyExists);
  }
}

TEST_F(SnapshotterTest, PrepareNeedsTheWholeChain) {
  Snapshotter s(root_.path());
  // The top layer alone (applied before its parent) cannot be mounted yet.
  s.apply(top_id_, base_id_, crisp::testing::string_reader(top_.blob));
  try {
    s.prepare("c1", top_id_);
    ADD_FAILURE() << "expected kNotFound";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
  EXPECT_TRUE(s.list().empty());
  EXPECT_TRUE(crisp::testing::dir_entries(root_.path() + "/snapshots/containers").empty());
}

TEST_F(SnapshotterTest, ReadonlyViews) {
  Snapshotter s(root_.path());
  s.apply(base_id_, "", crisp::testing::string_reader(base_.blob));
  s.apply(top_id_, base_id_, crisp::testing::string_reader(top_.blob));
  Mount one = s.prepare("view1", base_id_, true);
  EXPECT_EQ(one.type, "bind");
  EXPECT_EQ(one.options, (std::vector<std::string>{"rbind", "ro"}));
  Mount two = s.prepare("view2", top_id_, true);
  EXPECT_EQ(two.type, "overlay");
  EXPECT_EQ(opt(two, "upperdir="), "");
  EXPECT_EQ(opt(two, "ro"), "ro");
}

TEST_F(SnapshotterTest, ContainerWithoutLayersUsesAnEmptyLower) {
  Snapshotter s(root_.path());
  Mount m = s.prepare("scratch", "");
  EXPECT_EQ(opt(m, "lowerdir="), "lowerdir=" + root_.path() + "/snapshots/empty");
}

TEST_F(SnapshotterTest, RemoveChainRefusesWhileUsed) {
  Snapshotter s(root_.path());
  s.apply(base_id_, "", crisp::testing::string_reader(base_.blob));
  s.apply(top_id_, base_id_, crisp::testing::string_reader(top_.blob));
  s.prepare("c1", top_id_);
  auto expect_precondition = [&](const std::string& id) {
    try {
      s.remove_chain(id);
      ADD_FAILURE() << "expected kFailedPrecondition for " << id;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
    }
  };
  expect_precondition(top_id_);   // container c1
  expect_precondition(base_id_);  // child chain
  s.remove("c1");
  EXPECT_TRUE(s.list().empty());
  s.remove_chain(top_id_);
  s.remove_chain(base_id_);
  EXPECT_TRUE(s.chains().empty());
  try {
    s.remove_chain(base_id_);
    ADD_FAILURE() << "expected kNotFound";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
  for (const char* sub : {"chains", "containers", "tmp"})
    EXPECT_TRUE(crisp::testing::dir_entries(root_.path() + "/snapshots/" + sub).empty()) << sub;
}

TEST_F(SnapshotterTest, StateSurvivesARestartAndRecoverRemovesTemporaries) {
  {
    Snapshotter s(root_.path());
    s.apply(base_id_, "", crisp::testing::string_reader(base_.blob));
    s.prepare("c1", base_id_);
  }
  // What a crash in the middle of an apply and of a removal leaves behind.
  make_dirs(root_.path() + "/snapshots/tmp/0123abcd/fs/usr/bin");
  make_dirs(root_.path() + "/snapshots/tmp/4567cdef/upper");
  Snapshotter s(root_.path());
  EXPECT_EQ(s.recover(), 2u);
  EXPECT_TRUE(crisp::testing::dir_entries(root_.path() + "/snapshots/tmp").empty());
  EXPECT_TRUE(s.has(base_id_));
  ASSERT_EQ(s.list().size(), 1u);
  EXPECT_EQ(s.list()[0].chain_id, base_id_);
  EXPECT_EQ(s.chain(base_id_)->diff_id, base_.diff_id);
}

TEST_F(SnapshotterTest, UsageOfContainersAndChains) {
  Snapshotter s(root_.path());
  s.apply(base_id_, "", crisp::testing::string_reader(base_.blob));
  s.prepare("c1", base_id_);
  Usage empty = s.usage("c1");
  EXPECT_EQ(empty.inodes, 1u);  // upper/ itself
  atomic_write_file(root_.path() + "/snapshots/containers/c1/upper/data", std::string(100000, 'd'));
  Usage used = s.usage("c1");
  EXPECT_EQ(used.inodes, 2u);
  EXPECT_GE(used.bytes, empty.bytes + 100000);
  SnapshotsUsage total = s.usage();
  EXPECT_EQ(total.snapshots_dir, root_.path() + "/snapshots");
  EXPECT_GE(total.chains.inodes, 3u);
  EXPECT_GE(total.containers.bytes, 100000u);
  EXPECT_THROW(s.usage("nope"), Error);
}

TEST_F(SnapshotterTest, RejectsBadKeysAndIds) {
  Snapshotter s(root_.path());
  EXPECT_THROW(s.prepare("../evil", ""), Error);
  EXPECT_THROW(s.prepare("a/b", ""), Error);
  EXPECT_THROW(s.prepare("", ""), Error);
  EXPECT_THROW(s.apply("sha256:../../x", "", crisp::testing::string_reader(base_.blob)), Error);
}

}  // namespace
}  // namespace crisp::snapshot
