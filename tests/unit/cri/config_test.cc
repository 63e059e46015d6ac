#include "cri/daemon/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

#include "cri/daemon/config_reload.h"

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


TEST_F(ConfigTest, ErrorsInADropInNameTheDropIn) {
  std::string path = write("crisp.toml", "log_level = \"debug\"\n");
  make_dirs(dir_ + "/crisp.d");
  std::string dropin = write("crisp.d/50-bad.toml", "# comment\n[network]\nbogus = 1\n");
  std::string msg = error_of(path);
  EXPECT_NE(msg.find(dropin + ":3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("network.bogus"), std::string::npos) << msg;

  atomic_write_file(dropin, "[network]\nmode = \"magic\"\n");
  msg = error_of(path);
  EXPECT_NE(msg.find(dropin + ":2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("magic"), std::string::npos) << msg;
}

TEST_F(ConfigTest, DropInOverridesTheMainFileOnlyForItsKeys) {
  std::string path = write("crisp.toml", "log_level = \"warn\"\n[image]\nmax_concurrent_downloads = 9\n");
  make_dirs(dir_ + "/crisp.d");
  write("crisp.d/10-level.toml", "log_level = \"trace\"\n");
  Config c = load_config(path, true);
  EXPECT_EQ(c.log_level, "trace");
  EXPECT_EQ(c.max_concurrent_downloads, 9);
}

TEST_F(ConfigTest, EveryOptionHasItsOwnFlag) {
  std::set<std::string> flags, keys;
  for (const auto& opt : config_options()) {
    EXPECT_EQ(opt.flag.rfind("--", 0), 0u) << opt.key;
    EXPECT_TRUE(flags.insert(opt.flag).second) << "flag used twice: " << opt.flag;
    EXPECT_TRUE(keys.insert(opt.key).second) << opt.key;
    EXPECT_FALSE(opt.help.empty()) << opt.key;
    EXPECT_NO_THROW(config_value(Config{}, opt.key)) << opt.key;
  }
  // Every key of `config default` is in the table (the JSON of Status verbose lists them all).
  std::string json = config_to_json(Config{});
  for (const auto& key : keys) EXPECT_NE(json.find("\"" + key + "\""), std::string::npos) << key;
  EXPECT_TRUE(keys.count("metrics.address"));
}

TEST_F(ConfigTest, FlagsSetOptionsWithTheFileChecks) {
  Config c;
  set_config_flag(c, "log_level", {"debug"});
  set_config_flag(c, "image.max_concurrent_downloads", {"5", "8"});  // the last wins
  set_config_flag(c, "network.cni_bin_dirs", {"/a", "/b"});          // repeatable: all of them
  set_config_flag(c, "metrics.address", {"127.0.0.1:9090"});
  set_config_flag(c, "runtime.monitor_path", {});                    // not given: unchanged
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.max_concurrent_downloads, 8);
  EXPECT_EQ(c.cni_bin_dirs, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(c.metrics_address, "127.0.0.1:9090");
  EXPECT_EQ(c.monitor_path, "");

  auto error = [&](const std::string& key, const std::string& value) -> std::string {
    try {
      set_config_flag(c, key, {value});
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      return e.what();
    }
    return "";
  };
  std::string msg = error("log_level", "loud");
  EXPECT_NE(msg.find("--log-level"), std::string::npos) << msg;
  EXPECT_NE(msg.find("loud"), std::string::npos) << msg;
  msg = error("image.max_concurrent_downloads", "3x");
  EXPECT_NE(msg.find("--max-concurrent-downloads"), std::string::npos) << msg;
  EXPECT_NE(msg.find("integer"), std::string::npos) << msg;
  msg = error("image.max_concurrent_downloads", "0");
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
  EXPECT_THROW(set_config_flag(c, "no.such_key", {"x"}), Error);
}

TEST_F(ConfigTest, MetricsAddressMustBeHostPortOrEmpty) {
  Config c;
  EXPECT_NO_THROW(validate_config(c));
  c.metrics_address = "localhost";
  EXPECT_THROW(validate_config(c), Error);
  c.metrics_address = "127.0.0.1:0";
  EXPECT_NO_THROW(validate_config(c));
}

TEST_F(ConfigTest, ReferenceTableHasARowPerOption) {
  std::string md = config_reference_markdown();
  EXPECT_EQ(md.rfind("| key | flag | default | description |\n|---|---|---|---|\n", 0), 0u) << md;
  size_t rows = 0;
  for (char ch : md) rows += ch == '\n';
  EXPECT_EQ(rows, config_options().size() + 2);
  EXPECT_NE(md.find("| `log_level` | `--log-level` | `'info'` | crispd's log level. SIGHUP applies a change. |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| `network.cni_bin_dirs` | `--cni-bin-dir` (repeatable) | `['/opt/cni/bin', '/usr/lib/cni']` |"),
            std::string::npos)
      << md;
}

TEST_F(ConfigTest, ReloadAppliesLiveOptionsAndNamesTheRest) {
  Config running;
  Config fresh;
  EXPECT_EQ(apply_config_reload(running, fresh, {}), std::vector<std::string>{"SIGHUP: nothing changed"});

  fresh.log_level = "debug";
  fresh.registry_config_dir = "/etc/other/certs.d";
  fresh.cni_conf_dir = "/etc/other/net.d";
  fresh.network_mode = "cni";
  fresh.max_concurrent_downloads = 9;
  std::vector<std::string> lines = apply_config_reload(running, fresh, {});
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "SIGHUP: log_level info -> debug",
                       "SIGHUP: image.registry_config_dir /etc/crisp/certs.d -> /etc/other/certs.d",
                       "SIGHUP: image.max_concurrent_downloads 3 -> 9 needs a restart",
                       "SIGHUP: network.mode auto -> cni needs a restart",
                       "SIGHUP: network.cni_conf_dir /etc/cni/net.d -> /etc/other/net.d",
                   }));
  EXPECT_EQ(running.log_level, "debug");
  EXPECT_EQ(running.registry_config_dir, "/etc/other/certs.d");
  EXPECT_EQ(running.cni_conf_dir, "/etc/other/net.d");
  EXPECT_EQ(running.network_mode, "auto") << "a restart-only option is not applied";
  EXPECT_EQ(running.max_concurrent_downloads, 3);
  apply_config_reload(running, Config{}, {});  // back to info for the other tests
}

}  // namespace
}  // namespace crisp::cri
