#include "cri/daemon/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::cri {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/crisp-config-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { remove_tree(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    atomic_write_file(path, text);
    return path;
  }
  std::string error_of(const std::string& path) {
    try {
      load_config(path, true);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
      return e.what();
    }
    return "";
  }
  std::string dir_;
};

TEST_F(ConfigTest, DefaultsNeedNoFile) {
  Config c = load_config(dir_ + "/absent.toml", false);
  EXPECT_EQ(c.socket, "/run/crisp/crisp.sock");
  EXPECT_EQ(c.root, "/var/lib/crisp");
  EXPECT_EQ(c.state, "/run/crisp");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.cgroup_driver, "auto");
  EXPECT_EQ(c.max_concurrent_downloads, 3);
  EXPECT_TRUE(c.sources.empty());
}

TEST_F(ConfigTest, RequiredFileMustExist) {
  EXPECT_THROW(load_config(dir_ + "/absent.toml", true), Error);
}

TEST_F(ConfigTest, DefaultConfigTextParsesBackToDefaults) {
  std::string path = write("crisp.toml", default_config_toml());
  Config c = load_config(path, true);
  EXPECT_EQ(config_to_toml(c).substr(config_to_toml(c).find('\n') + 1), config_to_toml(Config{}));
}

TEST_F(ConfigTest, FileValuesApply) {
  std::string path = write("crisp.toml",
                           "log_level = \"debug\"\n[image]\nmax_concurrent_downloads = 5\n"
                           "[network]\ncni_bin_dirs = [\"/a\", \"/b\"]\n");
  Config c = load_config(path, true);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.max_concurrent_downloads, 5);
  EXPECT_EQ(c.cni_bin_dirs, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(c.sources, std::vector<std::string>{path});
}

TEST_F(ConfigTest, DropInsMergeInLexicalOrderLastWins) {
  std::string path = write("crisp.toml", "log_level = \"debug\"\n");
  make_dirs(dir_ + "/crisp.d");
  write("crisp.d/20-b.toml", "log_level = \"error\"\n");
  write("crisp.d/10-a.toml", "log_level = \"warn\"\n[image]\nmax_concurrent_downloads = 7\n");
  write("crisp.d/ignored.txt", "log_level = \"trace\"\n");
  Config c = load_config(path, true);
  EXPECT_EQ(c.log_level, "error");
  EXPECT_EQ(c.max_concurrent_downloads, 7);
  ASSERT_EQ(c.sources.size(), 3u);
}

TEST_F(ConfigTest, UnknownKeyNamesFileAndLine) {
  std::string path = write("crisp.toml", "log_level = \"info\"\n\n[image]\nbogus = 1\n");
  std::string msg = error_of(path);
  EXPECT_NE(msg.find(path + ":4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("image.bogus"), std::string::npos) << msg;
}

TEST_F(ConfigTest, UnknownSectionRefused) {
  std::string msg = error_of(write("crisp.toml", "[nope]\nx = 1\n"));
  EXPECT_NE(msg.find("unknown section [nope]"), std::string::npos) << msg;
}

TEST_F(ConfigTest, BadValuesNameFileAndLine) {
  std::string path = write("crisp.toml", "log_level = \"loud\"\n");
  std::string msg = error_of(path);
  EXPECT_NE(msg.find(path + ":1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("loud"), std::string::npos) << msg;

  path = write("crisp2.toml", "[image]\n\nmax_concurrent_downloads = \"three\"\n");
  msg = error_of(path);
  EXPECT_NE(msg.find(path + ":3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("integer"), std::string::npos) << msg;

  msg = error_of(write("crisp3.toml", "[image]\nmax_concurrent_downloads = 0\n"));
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
}

TEST_F(ConfigTest, SyntaxErrorNamesFileAndLine) {
  std::string path = write("crisp.toml", "log_level = \"info\"\nroot = \n");
  std::string msg = error_of(path);
  EXPECT_NE(msg.find(path + ":2"), std::string::npos) << msg;
}

TEST_F(ConfigTest, RelativePathsRefused) {
  std::string msg = error_of(write("crisp.toml", "root = \"var/lib/crisp\"\n"));
  EXPECT_NE(msg.find("absolute"), std::string::npos) << msg;
}

TEST_F(ConfigTest, JsonHasEveryKey) {
  std::string json = config_to_json(Config{});
  for (const char* key : {"\"socket\"", "\"image.registry_config_dir\"", "\"network.pod_cidr\"", "\"streaming.address\""})
    EXPECT_NE(json.find(key), std::string::npos) << key;
}

}  // namespace
}  // namespace crisp::cri
