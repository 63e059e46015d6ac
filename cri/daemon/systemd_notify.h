#pragma once
// crispd under systemd (Type=notify): READY=1 once the CRI socket serves, RELOADING=1/READY=1
// around a SIGHUP reload, STOPPING=1 when shutdown begins, and WATCHDOG=1 every WATCHDOG_USEC/2
// while a health check passes (WatchdogSec= in the unit). Without NOTIFY_SOCKET (not started by
// systemd) every call is a no-op. Uses libsystemd's sd_notify(3) and sd_watchdog_enabled(3).
//
//   SystemdNotifier notifier;
//   ...serve...
//   notifier.ready("serving CRI on unix:///run/crisp/crisp.sock");
//   notifier.start_watchdog([&] { return server_answers(); });
//   ...SIGTERM...
//   notifier.stopping();
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace crisp::cri {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID (the latter two are removed from the
  // environment, so processes crispd starts do not think the watchdog is theirs).
  SystemdNotifier();
  ~SystemdNotifier();  // stops the watchdog thread
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  // True when systemd (or a test) listens on NOTIFY_SOCKET.
  bool enabled() const { return enabled_; }
  // Zero when systemd set no watchdog for crispd.
  std::chrono::microseconds watchdog_timeout() const { return watchdog_timeout_; }

  // READY=1, MAINPID=<pid>, STATUS=<status>.
  void ready(const std::string& status);
  // RELOADING=1 with MONOTONIC_USEC (a SIGHUP reload begins); follow with ready().
  void reloading();
  // STOPPING=1 and STATUS=<status>; stops the watchdog pings.
  void stopping(const std::string& status = "shutting down");

  // Starts a thread that sends WATCHDOG=1 every watchdog_timeout()/2, each time after
  // healthy(deadline) returned true; healthy gets half the interval to answer. An unhealthy
  // crispd stops pinging and systemd restarts it after WatchdogSec. No-op without a watchdog.
  void start_watchdog(std::function<bool(std::chrono::milliseconds deadline)> healthy);
  void stop_watchdog();

 private:
  void send(const std::string& state) const;
  void watchdog_loop(std::function<bool(std::chrono::milliseconds)> healthy);

  bool enabled_ = false;
  std::chrono::microseconds watchdog_timeout_{0};
  std::mutex mu_;                  // guards stop_
  std::condition_variable wake_;   // signalled when stop_ becomes true
  bool stop_ = false;
  std::thread watchdog_;
};

}  // namespace crisp::cri
