// CRI log records: timestamp format, F/P tags, splitting of long lines, partial lines.
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/base/file_util.h"
#include "runtime/monitor/cri_log.h"

namespace crisp::monitor {
namespace {

constexpr int64_t kTime = 1767323045123456789LL;  // 2026-01-02T03:04:05.123456789Z

TEST(CriLogTest, FormatsRfc3339NanoUtc) {
  char buf[32];
  EXPECT_EQ(format_rfc3339_nano(kTime, buf), 30u);
  EXPECT_STREQ(buf, "2026-01-02T03:04:05.123456789Z");
  format_rfc3339_nano(0, buf);
  EXPECT_STREQ(buf, "1970-01-01T00:00:00.000000000Z");
  format_rfc3339_nano(951782400000000001LL, buf);  // leap day 2000
  EXPECT_STREQ(buf, "2000-02-29T00:00:00.000000001Z");
  format_rfc3339_nano(4102444799999999999LL, buf);
  EXPECT_STREQ(buf, "2099-12-31T23:59:59.999999999Z");
}

class CriLogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/crisp-cri-log-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/0.log";
  }
  void TearDown() override { remove_tree(dir_); }

  // Feeds data as if read() returned it (in reads of at most `room`).
  void feed(CriLog& log, CriLogStream& s, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      size_t room;
      char* dst = log.tail(&s, &room);
      size_t n = std::min(room, data.size() - off);
      memcpy(dst, data.data() + off, n);
      log.commit(&s, n, kTime);
      off += n;
    }
  }
  std::vector<std::string> lines() {
    std::vector<std::string> out;
    std::string text = read_file(path_);
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      out.push_back(text.substr(pos, nl - pos));
      pos = nl + 1;
    }
    return out;
  }

  std::string dir_, path_;
};

TEST_F(CriLogFileTest, WritesFullLinesPerStream) {
  CriLog log;
  ASSERT_TRUE(log.init(path_.c_str(), 16384));
  CriLogStream out, err;
  ASSERT_TRUE(log.init_stream(&out, "stdout"));
  ASSERT_TRUE(log.init_stream(&err, "stderr"));
  feed(log, out, "hello\nwor");
  feed(log, err, "err\n");
  feed(log, out, "ld\n\n");
  EXPECT_EQ(lines(), (std::vector<std::string>{
                         "2026-01-02T03:04:05.123456789Z stdout F hello",
                         "2026-01-02T03:04:05.123456789Z stderr F err",
                         "2026-01-02T03:04:05.123456789Z stdout F world",
                         "2026-01-02T03:04:05.123456789Z stdout F ",
                     }));
}

TEST_F(CriLogFileTest, SplitsLongLinesIntoPartialChunks) {
  CriLog log;
  ASSERT_TRUE(log.init(path_.c_str(), 100));
  CriLogStream out;
  ASSERT_TRUE(log.init_stream(&out, "stdout"));
  std::string line(250, 'x');
  line[0] = 'a';
  line[249] = 'z';
  feed(log, out, line + "\nshort\n");
  std::string prefix = "2026-01-02T03:04:05.123456789Z stdout ";
  EXPECT_EQ(lines(), (std::vector<std::string>{
                         prefix + "P " + line.substr(0, 100),
                         prefix + "P " + line.substr(100, 100),
                         prefix + "F " + line.substr(200, 50),
                         prefix + "F short",
                     }));
}

TEST_F(CriLogFileTest, ExactlyMaxLengthLineIsOneFullRecordAfterItsNewline) {
  CriLog log;
  ASSERT_TRUE(log.init(path_.c_str(), 100));
  CriLogStream out;
  ASSERT_TRUE(log.init_stream(&out, "stdout"));
  std::string line(99, 'y');
  feed(log, out, line + "\n");
  EXPECT_EQ(lines(), (std::vector<std::string>{"2026-01-02T03:04:05.123456789Z stdout F " + line}));
}

TEST_F(CriLogFileTest, FlushWritesTheUnterminatedTailAsFull) {
  CriLog log;
  ASSERT_TRUE(log.init(path_.c_str(), 16384));
  CriLogStream out;
  ASSERT_TRUE(log.init_stream(&out, "stdout"));
  feed(log, out, "no newline");
  EXPECT_TRUE(read_file(path_).empty());
  log.flush(&out, kTime);
  EXPECT_EQ(lines(), (std::vector<std::string>{"2026-01-02T03:04:05.123456789Z stdout F no newline"}));
}

TEST_F(CriLogFileTest, ReopenFollowsARotatedFile) {
  CriLog log;
  ASSERT_TRUE(log.init(path_.c_str(), 16384));
  CriLogStream out;
  ASSERT_TRUE(log.init_stream(&out, "stdout"));
  feed(log, out, "one\n");
  ASSERT_EQ(rename(path_.c_str(), (path_ + ".1").c_str()), 0);
  ASSERT_TRUE(log.reopen());
  feed(log, out, "two\n");
  EXPECT_NE(read_file(path_ + ".1").find("F one"), std::string::npos);
  EXPECT_EQ(lines(), (std::vector<std::string>{"2026-01-02T03:04:05.123456789Z stdout F two"}));
}

TEST(CriLogDiscardTest, NullPathDiscards) {
  CriLog log;
  ASSERT_TRUE(log.init(nullptr, 16384));
  CriLogStream out;
  ASSERT_TRUE(log.init_stream(&out, "stdout"));
  size_t room;
  char* dst = log.tail(&out, &room);
  memcpy(dst, "x\n", 2);
  log.commit(&out, 2, kTime);
  EXPECT_EQ(out.pending_len, 0u);
}

}  // namespace
}  // namespace crisp::monitor
