// SIGHUP re-reads crisp.toml and its drop-ins (and re-applies the flags): the log level, the
// registry hosts.toml directory and the CNI conf dir change live; other options are logged as
// needing a restart.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"
#include "tests/integration/daemon/daemon_process.h"
#include "tests/support/crispd_fixture.h"
#include "tests/support/oci_builder.h"
#include "tests/support/registry_fixture.h"

namespace crisp::test {
namespace {

// CrispdOptions from its three fields (designated initializers trip -Wmissing-field-initializers).
CrispdOptions crispd_options(std::vector<std::string> args, std::string config_toml, bool start) {
  CrispdOptions options;
  options.args = std::move(args);
  options.config_toml = std::move(config_toml);
  options.start = start;
  return options;
}

namespace v1 = ::runtime::v1;

// Network settings of this fixture's own (CrispdFixture adds them as flags only when the config
// has no [network] section).
std::string network_section(const CrispdFixture& crispd, const std::string& extra) {
  return "[network]\nbridge = \"" + crispd.bridge() + "\"\nnft_table = \"" + crispd.nft_table() +
         "\"\npod_cidr = \"" + crispd.pod_cidr() + "\"\n" + extra;
}

// The fixture's command without its --log-level debug, so the config file decides the level.
std::vector<std::string> without_log_level(std::vector<std::string> cmd) {
  for (size_t i = 0; i + 1 < cmd.size(); ++i)
    if (cmd[i] == "--log-level") cmd.erase(cmd.begin() + static_cast<long>(i), cmd.begin() + static_cast<long>(i) + 2);
  return cmd;
}

// Sends SIGHUP and waits for `line` in the log after what is already there.
void sighup_and_expect(pid_t pid, const std::function<std::string()>& log, const std::string& line) {
  size_t from = log().size();
  ::kill(pid, SIGHUP);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = log();
    if (text.size() > from && text.find(line, from) != std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "no \"" << line << "\" after SIGHUP:\n" << log().substr(from);
}

TEST(ConfigReloadTest, SighupChangesTheLogLevelLive) {
  CrispdFixture crispd(crispd_options({}, "log_level = \"info\"\n", false));
  DaemonProcess process(without_log_level(crispd.command()), {}, crispd.log_path());
  auto stub = runtime_stub(crispd.socket());
  ASSERT_TRUE(wait_until_serving(*stub, std::chrono::seconds(30))) << process.log();
  ASSERT_TRUE(version_answers(*stub, std::chrono::seconds(5)));
  EXPECT_EQ(process.log().find("rpc Version ok"), std::string::npos) << "a debug line at level info:\n"
                                                                     << process.log();

  atomic_write_file(crispd.dir() + "/crisp.toml", "log_level = \"debug\"\n");
  sighup_and_expect(process.pid(), [&] { return process.log(); }, "SIGHUP: log_level info -> debug");
  size_t after = process.log().size();
  ASSERT_TRUE(version_answers(*stub, std::chrono::seconds(5)));
  EXPECT_TRUE(process.wait_for_log("rpc Version ok", std::chrono::seconds(5), after)) << process.log();

  // And back: a drop-in overrides the main file.
  make_dirs(crispd.dir() + "/crisp.d");
  atomic_write_file(crispd.dir() + "/crisp.d/10-quiet.toml", "log_level = \"warn\"\n");
  sighup_and_expect(process.pid(), [&] { return process.log(); }, "SIGHUP: log_level debug -> warn");
  after = process.log().size();
  ASSERT_TRUE(version_answers(*stub, std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(process.log().find("rpc Version ok", after), std::string::npos) << process.log().substr(after);
  // Status verbose reports the config in effect, reloads included.
  ::runtime::v1::StatusRequest status_req;
  status_req.set_verbose(true);
  ::runtime::v1::StatusResponse status;
  auto ctx = client_context();
  ASSERT_TRUE(stub->Status(ctx.get(), status_req, &status).ok());
  EXPECT_NE(status.info().at("config").find("\"log_level\":\"warn\""), std::string::npos) << status.info().at("config");
  EXPECT_EQ(WEXITSTATUS(process.stop()), 0);
}

TEST(ConfigReloadTest, RestartOnlyOptionsAreNamedNotApplied) {
  // --max-concurrent-downloads is a flag: it keeps overriding the file across SIGHUP.
  CrispdFixture crispd(crispd_options({"--max-concurrent-downloads", "4"}, "[image]\nmax_concurrent_downloads = 2\n", true));
  auto log = [&] { return crispd.log(); };
  sighup_and_expect(crispd.pid(), log, "SIGHUP: nothing changed");

  atomic_write_file(crispd.dir() + "/crisp.toml",
                    "[image]\nmax_concurrent_downloads = 7\n[streaming]\ntoken_timeout_seconds = 30\n");
  sighup_and_expect(crispd.pid(), log, "SIGHUP: streaming.token_timeout_seconds 60 -> 30 needs a restart");
  EXPECT_EQ(crispd.log().find("max_concurrent_downloads 4 ->"), std::string::npos) << crispd.log();

  // A bad file is refused with its line; crispd keeps its config and keeps serving.
  atomic_write_file(crispd.dir() + "/crisp.toml", "log_level = \"debug\"\nbogus = 1\n");
  sighup_and_expect(crispd.pid(), log, "SIGHUP: keeping the current config: " + crispd.dir() + "/crisp.toml:2");
  v1::VersionResponse version;
  auto ctx = client_context();
  EXPECT_TRUE(crispd.runtime().Version(ctx.get(), {}, &version).ok());
}

bool network_ready(CrispdFixture& crispd, std::string* message = nullptr) {
  v1::StatusRequest req;
  v1::StatusResponse resp;
  auto ctx = client_context();
  EXPECT_TRUE(crispd.runtime().Status(ctx.get(), req, &resp).ok());
  for (const auto& c : resp.status().conditions())
    if (c.type() == "NetworkReady") {
      if (message) *message = c.message();
      return c.status();
    }
  return false;
}

TEST(ConfigReloadTest, SighupSwitchesTheCniConfDir) {
  // config_toml is rewritten before the start: the paths live in the fixture's own dir. Its
  // [network] tells the fixture not to add network flags (they would override the file).
  CrispdFixture crispd(crispd_options({}, "[network]\n# replaced below\n", false));
  std::string empty_dir = crispd.dir() + "/net.d-empty";
  std::string conf_dir = crispd.dir() + "/net.d";
  make_dirs(empty_dir);
  make_dirs(conf_dir);
  atomic_write_file(conf_dir + "/10-test.conflist",
                    R"({"cniVersion": "1.0.0", "name": "reload-test", "plugins": [{"type": "bridge"}]})");
  auto config = [&](const std::string& dir) {
    return network_section(crispd, "mode = \"cni\"\ncni_conf_dir = \"" + dir + "\"\n");
  };
  atomic_write_file(crispd.dir() + "/crisp.toml", config(empty_dir));
  crispd.start();
  std::string message;
  EXPECT_FALSE(network_ready(crispd, &message));
  EXPECT_NE(message.find(empty_dir), std::string::npos) << message;

  atomic_write_file(crispd.dir() + "/crisp.toml", config(conf_dir));
  sighup_and_expect(crispd.pid(), [&] { return crispd.log(); },
                    "SIGHUP: network.cni_conf_dir " + empty_dir + " -> " + conf_dir);
  EXPECT_TRUE(network_ready(crispd, &message)) << message;
}

// Picks a loopback port nobody listens on.
int unused_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

TEST(ConfigReloadTest, SighupSwitchesTheRegistryHostsDir) {
  RegistryFixture registry;
  Image image = build_image(ImageConfig{}, {make_layer({file("a.txt", "a")})}, ManifestFormat::kOci);
  registry.push_image("crisp-test/reload", "v1", image);
  // A name on a dead port: only a hosts.toml that sends it to the registry makes the pull work.
  std::string dead_host = "127.0.0.1:" + std::to_string(unused_port());
  CrispdFixture crispd(crispd_options({}, "# replaced below\n", false));
  std::string hosts_dir = crispd.dir() + "/certs.d";
  make_dirs(hosts_dir + "/" + dead_host);
  atomic_write_file(hosts_dir + "/" + dead_host + "/hosts.toml", "server = \"" + registry.url() + "\"\n");
  std::string no_hosts_dir = crispd.dir() + "/certs.d-empty";
  make_dirs(no_hosts_dir);
  atomic_write_file(crispd.dir() + "/crisp.toml", "[image]\nregistry_config_dir = \"" + no_hosts_dir + "\"\n");
  crispd.start();

  v1::PullImageRequest pull;
  pull.mutable_image()->set_image(dead_host + "/crisp-test/reload:v1");
  v1::PullImageResponse resp;
  auto ctx = client_context();
  grpc::Status s = crispd.images().PullImage(ctx.get(), pull, &resp);
  EXPECT_FALSE(s.ok()) << "pulled from a dead port?";

  atomic_write_file(crispd.dir() + "/crisp.toml", "[image]\nregistry_config_dir = \"" + hosts_dir + "\"\n");
  sighup_and_expect(crispd.pid(), [&] { return crispd.log(); },
                    "SIGHUP: image.registry_config_dir " + no_hosts_dir + " -> " + hosts_dir);
  ctx = client_context();
  s = crispd.images().PullImage(ctx.get(), pull, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

}  // namespace
}  // namespace crisp::test
