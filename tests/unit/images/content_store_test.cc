#include "image/content_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <dirent.h>
#include <sys/stat.h>

#include <thread>

#include "image/digest.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::image {
namespace {

class ContentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/crisp-content-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { remove_tree(root_); }
  size_t ingest_files() {
    size_t n = 0;
    std::string dir = root_ + "/content/ingest";
    if (DIR* d = opendir(dir.c_str())) {
      while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
      closedir(d);
    }
    return n;
  }
  std::string root_;
};

TEST_F(ContentStoreTest, IngestVerifiesAndStores) {
  ContentStore store(root_);
  std::string data(100000, 'x');
  std::string digest = sha256_digest(data);
  bool owner = false;
  auto ingest = store.begin(digest, data.size(), owner);
  ASSERT_TRUE(owner);
  EXPECT_FALSE(store.has(digest));
  // A reader sees bytes as they arrive and the end only after commit.
  std::string seen;
  std::thread reader([&] {
    auto r = ingest->open_reader();
    char buf[7000];
    while (size_t n = r->read(buf, sizeof buf)) seen.append(buf, n);
  });
  for (size_t off = 0; off < data.size(); off += 4096) ingest->write(data.data() + off, std::min<size_t>(4096, data.size() - off));
  ingest->commit();
  reader.join();
  EXPECT_EQ(seen, data);
  EXPECT_TRUE(store.has(digest));
  EXPECT_EQ(store.read(digest).value(), data);
  EXPECT_EQ(ingest_files(), 0u);
  // A second begin gets a complete ingest.
  auto again = store.begin(digest, data.size(), owner);
  EXPECT_FALSE(owner);
  again->wait();
  auto r2 = again->open_reader();
  char buf[10];
  EXPECT_EQ(r2->read(buf, sizeof buf), 10u);
}

TEST_F(ContentStoreTest, RefusesADigestMismatch) {
  ContentStore store(root_);
  std::string digest = sha256_digest("right");
  bool owner = false;
  auto ingest = store.begin(digest, 5, owner);
  std::exception_ptr reader_error;
  std::thread reader([&] {
    try {
      auto r = ingest->open_reader();
      char buf[16];
      while (r->read(buf, sizeof buf) > 0) {
      }
    } catch (...) {
      reader_error = std::current_exception();
    }
  });
  ingest->write("wrong", 5);
  try {
    ingest->commit();
    FAIL() << "commit accepted a mismatching blob";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("does not match"), std::string::npos);
  }
  reader.join();
  EXPECT_TRUE(reader_error) << "the reader must never see the end of an unverified blob";
  EXPECT_FALSE(store.has(digest));
  EXPECT_EQ(ingest_files(), 0u);
  EXPECT_THROW(ingest->wait(), Error);
}

TEST_F(ContentStoreTest, RefusesTruncatedAndOversized) {
  ContentStore store(root_);
  std::string data = "0123456789";
  std::string digest = sha256_digest(data);
  bool owner = false;
  auto ingest = store.begin(digest, data.size(), owner);
  ingest->write(data.data(), 5);
  EXPECT_THROW(ingest->commit(), Error);
  EXPECT_FALSE(store.has(digest));

  auto big = store.begin(digest, data.size(), owner);
  ASSERT_TRUE(owner);
  EXPECT_THROW(big->write("0123456789ABC", 13), Error);
  big->fail(std::make_exception_ptr(Error(ErrorKind::kInvalidArgument, "too big")));
  EXPECT_FALSE(store.has(digest));
  EXPECT_EQ(ingest_files(), 0u);
}

TEST_F(ContentStoreTest, ConcurrentBeginsShareOneIngest) {
  ContentStore store(root_);
  std::string digest = sha256_digest("abc");
  bool owner1 = false, owner2 = true;
  auto a = store.begin(digest, 3, owner1);
  auto b = store.begin(digest, 3, owner2);
  EXPECT_TRUE(owner1);
  EXPECT_FALSE(owner2);
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(store.in_flight().size(), 1u);
  store.remove(digest);  // in flight: kept
  a->write("abc", 3);
  a->commit();
  b->wait();
  EXPECT_TRUE(store.has(digest));
  EXPECT_TRUE(store.in_flight().empty());
  store.remove(digest);
  EXPECT_FALSE(store.has(digest));
}

TEST_F(ContentStoreTest, CancelStopsTheWriter) {
  ContentStore store(root_);
  std::string digest = sha256_digest("abcdef");
  bool owner = false;
  auto ingest = store.begin(digest, 6, owner);
  ingest->write("abc", 3);
  ingest->cancel(std::make_exception_ptr(Error(ErrorKind::kInvalidArgument, "layer refused")));
  EXPECT_TRUE(ingest->cancelled());
  EXPECT_THROW(ingest->write("def", 3), Error);
}

TEST_F(ContentStoreTest, LeftoversAreRemovedAtOpen) {
  {
    ContentStore store(root_);
    bool owner = false;
    auto ingest = store.begin(sha256_digest("x"), 1, owner);
    ingest.reset();  // like a crash: the destructor would unlink, so write a stray file too
  }
  atomic_write_file(root_ + "/content/ingest/stray", "half");
  atomic_write_file(root_ + "/content/sha256/" + std::string(64, 'a') + ".tmp-abcdef", "half");
  ContentStore reopened(root_);
  EXPECT_EQ(ingest_files(), 0u);
  EXPECT_TRUE(reopened.list().empty());
  struct stat st;
  EXPECT_NE(::stat((root_ + "/content/sha256/" + std::string(64, 'a') + ".tmp-abcdef").c_str(), &st), 0);
}

TEST_F(ContentStoreTest, PutChecksTheDigest) {
  ContentStore store(root_);
  EXPECT_THROW(store.put(sha256_digest("a"), "b"), Error);
  store.put(sha256_digest("a"), "a");
  EXPECT_EQ(store.list().size(), 1u);
  EXPECT_EQ(store.size(sha256_digest("a")).value(), 1u);
}

}  // namespace
}  // namespace crisp::image
