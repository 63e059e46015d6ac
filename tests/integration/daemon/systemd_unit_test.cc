// manifests/systemd/crispd.service: systemd-analyze verify accepts it, and it says what crispd
// needs from systemd. PID 1 here need not be systemd: `systemd-analyze verify` loads the unit
// offline. ExecStart is rewritten to the build's crispd (verify checks that the binary exists)
// and --man=no skips the Documentation= man page lookup.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

#include "runtime/base/file_util.h"
#include "tests/support/crispd_fixture.h"

namespace crisp::test {
namespace {

std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, ""};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string unit_text() {
  const char* src = std::getenv("CRISP_SOURCE_DIR");
  return read_file(std::string(src ? src : ".") + "/manifests/systemd/crispd.service");
}

// "Key=value" lines by key (the last wins), section names ignored.
std::multimap<std::string, std::string> unit_settings(const std::string& text) {
  std::multimap<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line[0] == '[') continue;
    auto eq = line.find('=');
    if (eq != std::string::npos) out.emplace(line.substr(0, eq), line.substr(eq + 1));
  }
  return out;
}

class SystemdUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/systemd-analyze", X_OK) != 0) GTEST_SKIP() << "systemd-analyze is not installed";
    char tmpl[] = "/tmp/crisp-unit-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) remove_tree(dir_);
  }
  // The unit with ExecStart pointing at `binary`, written to <dir>/crispd.service.
  std::string write_unit(const std::string& binary) {
    std::string text = unit_text();
    size_t at = text.find("\nExecStart=/usr/bin/crispd\n");
    EXPECT_NE(at, std::string::npos) << "the unit must start /usr/bin/crispd (what the .deb installs)";
    if (at != std::string::npos) text.replace(at, 27, "\nExecStart=" + binary + "\n");
    std::string path = dir_ + "/crispd.service";
    atomic_write_file(path, text);
    return path;
  }
  std::pair<int, std::string> verify(const std::string& unit) {
    // SYSTEMD_LOG_LEVEL: warnings (unknown keys, bad values) are printed; a unit with none is silent.
    return run("SYSTEMD_LOG_LEVEL=notice /usr/bin/systemd-analyze verify --man=no " + unit);
  }
  std::string dir_;
};

TEST_F(SystemdUnitTest, VerifyAcceptsTheUnitWithoutAWarning) {
  auto [rc, out] = verify(write_unit(build_path("crispd")));
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << "systemd-analyze verify warns about crispd.service";
}

// The verification above is real: the same tool refuses a unit whose binary does not exist and
// warns about a key it does not know.
TEST_F(SystemdUnitTest, VerifyReallyChecks) {
  auto [rc, out] = verify(write_unit(dir_ + "/no-such-crispd"));
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("no-such-crispd"), std::string::npos) << out;

  std::string path = write_unit(build_path("crispd"));
  atomic_write_file(path, read_file(path) + "[Service]\nNoSuchSetting=1\n");
  std::tie(rc, out) = verify(path);
  EXPECT_NE(out.find("NoSuchSetting"), std::string::npos) << out;
}

TEST_F(SystemdUnitTest, UnitSaysWhatCrispdNeeds) {
  auto settings = unit_settings(unit_text());
  auto value = [&](const std::string& key) {
    auto it = settings.find(key);
    return it == settings.end() ? std::string("<unset>") : it->second;
  };
  EXPECT_EQ(value("Type"), "notify");
  EXPECT_EQ(value("ExecStart"), "/usr/bin/crispd");
  EXPECT_EQ(value("ExecReload"), "/bin/kill -HUP $MAINPID");
  EXPECT_EQ(value("Delegate"), "yes");
  EXPECT_EQ(value("KillMode"), "process");
  EXPECT_EQ(value("OOMScoreAdjust"), "-999");
  EXPECT_EQ(value("LimitNOFILE"), "1048576");
  EXPECT_EQ(value("LimitNPROC"), "infinity");
  EXPECT_EQ(value("LimitCORE"), "infinity");
  EXPECT_EQ(value("TasksMax"), "infinity");
  EXPECT_EQ(value("Restart"), "always");
  EXPECT_EQ(value("RestartSec"), "5");
  EXPECT_EQ(value("WatchdogSec"), "60");
  EXPECT_EQ(value("Before"), "kubelet.service");
  EXPECT_NE(value("After").find("network-online.target"), std::string::npos);
  EXPECT_NE(value("After").find("local-fs.target"), std::string::npos);
  EXPECT_EQ(value("Wants"), "network-online.target");
  EXPECT_EQ(value("WantedBy"), "multi-user.target");
  EXPECT_NE(value("Documentation"), "<unset>");
}

}  // namespace
}  // namespace crisp::test
