// crispd speaks systemd's notify protocol (sd_notify(3)) to whoever listens on NOTIFY_SOCKET:
// READY=1 once the CRI socket answers, WATCHDOG=1 every WATCHDOG_USEC/2, STOPPING=1 on SIGTERM.
// The test plays systemd: an AF_UNIX datagram socket of its own, passed in crispd's environment.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "runtime/base/unique_fd.h"
#include "tests/integration/daemon/daemon_process.h"
#include "tests/support/crispd_fixture.h"

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

// What systemd would bind: a datagram socket at `path`.
UniqueFd bind_notify_socket(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return UniqueFd();
  return fd;
}

// The next datagram, or nullopt after `timeout`.
std::optional<std::string> receive(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
  char buf[4096];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

bool has_line(const std::string& message, const std::string& line) {
  return ("\n" + message + "\n").find("\n" + line + "\n") != std::string::npos;
}

TEST(SystemdNotifyTest, ReadyWatchdogAndStopping) {
  CrispdFixture crispd(crispd_options({}, "", false));
  std::string notify_path = crispd.dir() + "/notify.sock";
  UniqueFd notify = bind_notify_socket(notify_path);
  ASSERT_TRUE(notify) << "bind " << notify_path << ": " << std::strerror(errno);

  // 1 s: a ping every 500 ms.
  DaemonProcess process(crispd.command(), {"NOTIFY_SOCKET=" + notify_path, "WATCHDOG_USEC=1000000"},
                        crispd.log_path());
  auto stub = runtime_stub(crispd.socket());

  // READY=1 comes once the socket serves: at that moment Version answers.
  std::optional<std::string> ready;
  std::vector<std::string> before_ready;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!ready && std::chrono::steady_clock::now() < deadline) {
    auto msg = receive(notify.get(), std::chrono::milliseconds(100));
    if (!msg) {
      ASSERT_FALSE(process.exited()) << "crispd exited:\n" << process.log();
      continue;
    }
    if (has_line(*msg, "READY=1")) ready = msg;
    else before_ready.push_back(*msg);
  }
  ASSERT_TRUE(ready) << "no READY=1 within 30 s:\n" << process.log();
  EXPECT_TRUE(version_answers(*stub, std::chrono::milliseconds(2000))) << "READY=1 but the CRI socket does not answer";
  EXPECT_TRUE(has_line(*ready, "MAINPID=" + std::to_string(process.pid()))) << *ready;
  EXPECT_NE(ready->find("STATUS="), std::string::npos) << *ready;
  for (const auto& m : before_ready) EXPECT_EQ(m.find("WATCHDOG=1"), std::string::npos) << "ping before READY: " << m;

  // WATCHDOG=1 again and again, every 500 ms (paced, not a burst).
  int pings = 0;
  auto start = std::chrono::steady_clock::now();
  while (pings < 5 && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    auto msg = receive(notify.get(), std::chrono::milliseconds(2000));
    if (msg && has_line(*msg, "WATCHDOG=1")) ++pings;
  }
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(pings, 5) << process.log();
  EXPECT_GE(took, std::chrono::milliseconds(1500)) << "5 pings 500 ms apart take at least 4 intervals";
  EXPECT_LT(took, std::chrono::milliseconds(8000));
  EXPECT_NE(process.log().find("systemd watchdog: 1000 ms, pinging every 500 ms"), std::string::npos)
      << process.log();

  // SIGTERM: STOPPING=1, then a clean exit.
  process.signal(SIGTERM);
  bool stopping = false;
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!stopping && std::chrono::steady_clock::now() < deadline) {
    auto msg = receive(notify.get(), std::chrono::milliseconds(100));
    if (msg && has_line(*msg, "STOPPING=1")) stopping = true;
  }
  EXPECT_TRUE(stopping) << process.log();
  int status = process.stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << process.log();
}

TEST(SystemdNotifyTest, SighupReloadSaysReloadingThenReady) {
  CrispdFixture crispd(crispd_options({}, "", false));
  std::string notify_path = crispd.dir() + "/notify.sock";
  UniqueFd notify = bind_notify_socket(notify_path);
  ASSERT_TRUE(notify);
  DaemonProcess process(crispd.command(), {"NOTIFY_SOCKET=" + notify_path}, crispd.log_path());
  bool ready = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!ready && std::chrono::steady_clock::now() < deadline) {
    auto msg = receive(notify.get(), std::chrono::milliseconds(100));
    ready = msg && has_line(*msg, "READY=1");
  }
  ASSERT_TRUE(ready) << process.log();
  process.signal(SIGHUP);
  auto reloading = receive(notify.get(), std::chrono::seconds(5));
  ASSERT_TRUE(reloading) << process.log();
  EXPECT_TRUE(has_line(*reloading, "RELOADING=1")) << *reloading;
  EXPECT_NE(reloading->find("MONOTONIC_USEC="), std::string::npos) << *reloading;
  auto again = receive(notify.get(), std::chrono::seconds(5));
  ASSERT_TRUE(again) << process.log();
  EXPECT_TRUE(has_line(*again, "READY=1")) << *again;
  // No WATCHDOG_USEC: no pings.
  EXPECT_FALSE(receive(notify.get(), std::chrono::milliseconds(500))) << "unexpected notification";
  EXPECT_EQ(WEXITSTATUS(process.stop()), 0);
}

TEST(SystemdNotifyTest, UnboundNotifySocketIsOnlyAWarning) {
  // A NOTIFY_SOCKET nobody bound: crispd serves anyway and says why systemd would not hear it.
  CrispdFixture crispd(crispd_options({}, "", false));
  DaemonProcess process(crispd.command(), {"NOTIFY_SOCKET=" + crispd.dir() + "/nobody.sock"}, crispd.log_path());
  auto stub = runtime_stub(crispd.socket());
  ASSERT_TRUE(wait_until_serving(*stub, std::chrono::seconds(30))) << process.log();
  EXPECT_TRUE(process.wait_for_log("sd_notify(READY=1) failed", std::chrono::seconds(5))) << process.log();
  EXPECT_EQ(WEXITSTATUS(process.stop()), 0);
}

}  // namespace
}  // namespace crisp::test
