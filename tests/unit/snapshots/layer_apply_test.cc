#include "image/layer/layer_apply.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <clocale>
#include <filesystem>
#include <stdexcept>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "tests/unit/snapshots/test_layers.h"

namespace crisp::layer {
namespace {

using crisp::testing::Compression;
using crisp::testing::TarEntry;
using crisp::testing::TempDir;

struct Applied {
  LayerApplyResult result;
  std::string dir;
};

class LayerApplyTest : public ::testing::Test {
 protected:
  std::string target() const { return tmp_.path() + "/layer"; }

  LayerApplyResult apply(const std::string& blob, size_t chunk = 4096) {
    return apply_layer(crisp::testing::string_reader(blob, chunk), target());
  }

  // Applying `blob` must fail with `kind`, naming `needle`, and leave nothing behind.
  void expect_refused(const std::string& blob, ErrorKind kind, const std::string& needle) {
    try {
      apply(blob);
      ADD_FAILURE() << "apply succeeded, expected an error naming " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), kind) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_TRUE(crisp::testing::dir_entries(tmp_.path()).empty())
        << "something was left behind in " << tmp_.path();
  }

  TempDir tmp_;
};

std::vector<TarEntry> sample_entries() {
  TarEntry run = crisp::testing::file("bin/run", "#!/bin/sh\necho hi\n", 04755);
  run.mtime = 1'500'000'000;
  TarEntry tmp = crisp::testing::dir("tmp", 01777);
  tmp.mtime = 1'400'000'000;
  return {crisp::testing::dir("bin"),
          run,
          crisp::testing::file("etc/hostname", "layer\n", 0600),
          crisp::testing::symlink("bin/sh", "/bin/busybox"),
          crisp::testing::hardlink("bin/run2", "bin/run"),
          tmp,
          crisp::testing::file("setgid", "", 02755)};
}

void expect_sample_applied(const std::string& dir) {
  EXPECT_EQ(read_file(dir + "/bin/run"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(read_file(dir + "/etc/hostname"), "layer\n");
  struct stat run, run2, host, tmp, sgid, sh;
  ASSERT_EQ(::lstat((dir + "/bin/run").c_str(), &run), 0);
  ASSERT_EQ(::lstat((dir + "/bin/run2").c_str(), &run2), 0);
  ASSERT_EQ(::lstat((dir + "/etc/hostname").c_str(), &host), 0);
  ASSERT_EQ(::lstat((dir + "/tmp").c_str(), &tmp), 0);
  ASSERT_EQ(::lstat((dir + "/setgid").c_str(), &sgid), 0);
  ASSERT_EQ(::lstat((dir + "/bin/sh").c_str(), &sh), 0);
  EXPECT_EQ(run.st_mode & 07777, 04755u);
  EXPECT_EQ(run.st_mtim.tv_sec, 1'500'000'000);
  EXPECT_EQ(run.st_ino, run2.st_ino) << "hardlink must share the inode";
  EXPECT_EQ(run.st_nlink, 2u);
  EXPECT_EQ(host.st_mode & 07777, 0600u);
  EXPECT_TRUE(S_ISDIR(tmp.st_mode));
  EXPECT_EQ(tmp.st_mode & 07777, 01777u);
  EXPECT_EQ(tmp.st_mtim.tv_sec, 1'400'000'000);
  EXPECT_EQ(sgid.st_mode & 07777, 02755u);
  EXPECT_TRUE(S_ISLNK(sh.st_mode));
  EXPECT_EQ(std::filesystem::read_symlink(dir + "/bin/sh").string(), "/bin/busybox");
}

TEST_F(LayerApplyTest, UncompressedTar) {
  std::string tar = crisp::testing::make_layer(sample_entries());
  auto result = apply(tar);
  EXPECT_EQ(result.diff_id, crisp::testing::sha256_hex(tar));
  EXPECT_EQ(result.uncompressed_size, tar.size());
  EXPECT_EQ(result.entries, 7u);
  expect_sample_applied(target());
  // Only the target: the temporary directory was renamed into place.
  EXPECT_EQ(crisp::testing::dir_entries(tmp_.path()), std::vector<std::string>{"layer"});
}

TEST_F(LayerApplyTest, GzipDiffIdIsOfTheUncompressedTar) {
  std::string tar = crisp::testing::make_layer(sample_entries());
  std::string gz = crisp::testing::make_layer(sample_entries(), Compression::kGzip);
  ASSERT_NE(gz, tar);
  auto result = apply(gz, 100);  // small reads, like a slow network
  EXPECT_EQ(result.diff_id, crisp::testing::sha256_hex(tar));
  EXPECT_EQ(result.uncompressed_size, tar.size());
  expect_sample_applied(target());
}

TEST_F(LayerApplyTest, Zstd) {
  std::string tar = crisp::testing::make_layer(sample_entries());
  std::string zst = crisp::testing::make_layer(sample_entries(), Compression::kZstd);
  ASSERT_EQ(zst.substr(0, 4), std::string("\x28\xb5\x2f\xfd", 4));
  auto result = apply(zst);
  EXPECT_EQ(result.diff_id, crisp::testing::sha256_hex(tar));
  expect_sample_applied(target());
}

// A network may deliver a byte at a time; detection and decompression must not care.
TEST_F(LayerApplyTest, OneByteReads) {
  std::string tar = crisp::testing::make_layer(sample_entries());
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kZstd}) {
    std::string blob = crisp::testing::compress(tar, c);
    auto result = apply(blob, 1);
    EXPECT_EQ(result.diff_id, crisp::testing::sha256_hex(tar));
    expect_sample_applied(target());
    remove_tree(target());
  }
}

TEST_F(LayerApplyTest, LargeFileAcrossManyReads) {
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 4096);
  std::string gz =
      crisp::testing::make_layer({crisp::testing::file("big", big)}, Compression::kGzip);
  auto result = apply(gz, 65536);
  EXPECT_EQ(read_file(target() + "/big"), big);
  EXPECT_EQ(result.diff_id, crisp::testing::sha256_hex(
                                crisp::testing::make_layer({crisp::testing::file("big", big)})));
}

TEST_F(LayerApplyTest, OwnershipAndXattrs) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for chown and security.* xattrs";
  TarEntry f = crisp::testing::file("ping", "x", 0755);
  f.uid = 1234;
  f.gid = 5678;
  // security.capability v2 for cap_net_raw (bit 13) permitted+effective.
  std::string cap(
      "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
  f.xattrs.push_back({"security.capability", cap});
  f.xattrs.push_back({"user.note", "hello"});
  TarEntry s = crisp::testing::symlink("link", "ping");
  s.uid = 42;
  s.gid = 43;
  apply(crisp::testing::make_layer({f, s}));
  struct stat st;
  ASSERT_EQ(::lstat((target() + "/ping").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  char buf[64];
  ssize_t n = ::getxattr((target() + "/ping").c_str(), "security.capability", buf, sizeof buf);
  ASSERT_EQ(n, 20);
  EXPECT_EQ(std::string(buf, 20), cap);
  n = ::getxattr((target() + "/ping").c_str(), "user.note", buf, sizeof buf);
  ASSERT_EQ(n, 5);
  ASSERT_EQ(::lstat((target() + "/link").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 42u);
  EXPECT_EQ(st.st_gid, 43u);
}

TEST_F(LayerApplyTest, OverlayXattrsFromTheLayerAreDropped) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for trusted.* xattrs";
  TarEntry d = crisp::testing::dir("d");
  d.xattrs.push_back({"trusted.overlay.redirect", "/etc"});
  apply(crisp::testing::make_layer({d}));
  char buf[64];
  EXPECT_LT(::getxattr((target() + "/d").c_str(), "trusted.overlay.redirect", buf, sizeof buf), 0);
}

TEST_F(LayerApplyTest, LaterEntryReplacesEarlier) {
  apply(crisp::testing::make_layer(
      {crisp::testing::file("a", "one"), crisp::testing::dir("b"), crisp::testing::file("b/x", "x"),
       crisp::testing::file("a", "two"), crisp::testing::file("b", "now a file")}));
  EXPECT_EQ(read_file(target() + "/a"), "two");
  EXPECT_EQ(read_file(target() + "/b"), "now a file");
}

TEST_F(LayerApplyTest, ParentsAreCreatedImplicitly) {
  apply(crisp::testing::make_layer({crisp::testing::file("./a/b/c/d", "deep")}));
  EXPECT_EQ(read_file(target() + "/a/b/c/d"), "deep");
}

// crispd runs in the "C" locale; pax stores non-ASCII names as UTF-8 (written here in C.UTF-8,
// as libarchive's writer needs a UTF-8 locale for them).
TEST_F(LayerApplyTest, NonAsciiNamesKeepTheirBytes) {
  ASSERT_NE(::setlocale(LC_CTYPE, "C.UTF-8"), nullptr);
  std::string tar =
      crisp::testing::make_layer({crisp::testing::file("caf\xc3\xa9/na\xc3\xafve.txt", "utf8"),
                                  crisp::testing::symlink("lien", "caf\xc3\xa9")});
  ::setlocale(LC_CTYPE, "C");
  apply(tar);
  EXPECT_EQ(read_file(target() + "/caf\xc3\xa9/na\xc3\xafve.txt"), "utf8");
  EXPECT_EQ(std::filesystem::read_symlink(target() + "/lien").string(), "caf\xc3\xa9");
}

// Decision: like containerd, entries are rooted: a leading "/" is dropped, not refused.
TEST_F(LayerApplyTest, AbsolutePathIsRootedInTheLayer) {
  apply(crisp::testing::make_layer({crisp::testing::file("/abs", "rooted")}));
  EXPECT_EQ(read_file(target() + "/abs"), "rooted");
}

TEST_F(LayerApplyTest, RefusesDotDot) {
  expect_refused(crisp::testing::make_layer({crisp::testing::file("../x", "evil")}),
                 ErrorKind::kInvalidArgument, "../x");
}

TEST_F(LayerApplyTest, RefusesDotDotInTheMiddle) {
  expect_refused(crisp::testing::make_layer({crisp::testing::file("ok", "fine"),
                                             crisp::testing::file("a/../../x", "evil")}),
                 ErrorKind::kInvalidArgument, "a/../../x");
}

TEST_F(LayerApplyTest, RefusesWritingThroughAbsoluteSymlink) {
  expect_refused(crisp::testing::make_layer({crisp::testing::symlink("evil", "/etc"),
                                             crisp::testing::file("evil/passwd", "root::0:0")}),
                 ErrorKind::kInvalidArgument, "evil/passwd");
}

TEST_F(LayerApplyTest, RefusesWritingThroughRelativeSymlink) {
  expect_refused(crisp::testing::make_layer({crisp::testing::symlink("evil", "../../.."),
                                             crisp::testing::file("evil/x", "evil")}),
                 ErrorKind::kInvalidArgument, "evil/x");
}

TEST_F(LayerApplyTest, RefusesHardlinkOutsideTheLayer) {
  expect_refused(crisp::testing::make_layer({crisp::testing::hardlink("pw", "../../etc/passwd")}),
                 ErrorKind::kInvalidArgument, "pw");
}

TEST_F(LayerApplyTest, RefusesHardlinkThroughSymlink) {
  expect_refused(crisp::testing::make_layer({crisp::testing::symlink("etc", "/etc"),
                                             crisp::testing::hardlink("pw", "etc/passwd")}),
                 ErrorKind::kInvalidArgument, "pw");
}

TEST_F(LayerApplyTest, RefusesHardlinkToDirectory) {
  expect_refused(
      crisp::testing::make_layer({crisp::testing::dir("d"), crisp::testing::hardlink("d2", "d")}),
      ErrorKind::kInvalidArgument, "d2");
}

TEST_F(LayerApplyTest, RefusesTruncatedGzip) {
  std::string big(1 << 20, 'z');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  std::string gz = crisp::testing::make_layer(
      {crisp::testing::file("a", "a"), crisp::testing::file("big", big)}, Compression::kGzip);
  expect_refused(gz.substr(0, gz.size() / 2), ErrorKind::kInvalidArgument, "layer");
}

TEST_F(LayerApplyTest, RefusesTruncatedZstd) {
  std::string big(1 << 20, 'z');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  std::string zst =
      crisp::testing::make_layer({crisp::testing::file("big", big)}, Compression::kZstd);
  expect_refused(zst.substr(0, zst.size() * 3 / 4), ErrorKind::kInvalidArgument, "layer");
}

TEST_F(LayerApplyTest, RefusesGarbage) {
  std::string garbage(5000, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 31 + 7);
  expect_refused(garbage, ErrorKind::kInvalidArgument, "tar");
}

TEST_F(LayerApplyTest, RefusesEmptyBlob) {
  expect_refused("", ErrorKind::kInvalidArgument, "layer");
}

TEST_F(LayerApplyTest, EnforcesEntrySizeLimit) {
  std::string tar =
      crisp::testing::make_layer({crisp::testing::file("big", std::string(10000, 'b'))});
  LayerApplyOptions options;
  options.max_entry_bytes = 4096;
  try {
    apply_layer(crisp::testing::string_reader(tar), target(), options);
    ADD_FAILURE() << "expected a size limit error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kResourceExhausted);
    EXPECT_NE(std::string(e.what()).find("big"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(crisp::testing::dir_entries(tmp_.path()).empty());
}

TEST_F(LayerApplyTest, ReaderExceptionAbortsAndCleansUp) {
  std::string gz = crisp::testing::make_layer({crisp::testing::file("a", std::string(200000, 'a'))},
                                              Compression::kGzip);
  size_t calls = 0;
  LayerReader failing = [&](char* buf, size_t cap) -> size_t {
    if (++calls > 1) throw std::runtime_error("connection reset");
    size_t n = std::min<size_t>(cap, 100);
    std::memcpy(buf, gz.data(), n);
    return n;
  };
  EXPECT_THROW(
      {
        try {
          apply_layer(failing, target());
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "connection reset");
          throw;
        }
      },
      std::runtime_error);
  EXPECT_TRUE(crisp::testing::dir_entries(tmp_.path()).empty());
}

TEST_F(LayerApplyTest, TargetMustNotExist) {
  make_dirs(target());
  std::string tar = crisp::testing::make_layer({crisp::testing::file("a", "a")});
  try {
    apply(tar);
    ADD_FAILURE() << "expected kAlreadyExists";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kAlreadyExists);
  }
}

}  // namespace
}  // namespace crisp::layer
