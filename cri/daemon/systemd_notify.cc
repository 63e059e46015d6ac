#include "cri/daemon/systemd_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>

namespace crisp::cri {

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket && *socket;
  uint64_t usec = 0;
  // > 0: the watchdog is on and meant for this process (WATCHDOG_PID, when set, is our pid).
  if (sd_watchdog_enabled(1, &usec) > 0 && usec > 0) watchdog_timeout_ = std::chrono::microseconds(usec);
  if (!enabled_) watchdog_timeout_ = std::chrono::microseconds(0);
}

SystemdNotifier::~SystemdNotifier() { stop_watchdog(); }

void SystemdNotifier::send(const std::string& state) const {
  if (!enabled_) return;
  int r = sd_notify(0, state.c_str());
  if (r < 0) spdlog::warn("sd_notify({}) failed: {}", state.substr(0, state.find('\n')), std::strerror(-r));
}

void SystemdNotifier::ready(const std::string& status) {
  send("READY=1\nMAINPID=" + std::to_string(::getpid()) + "\nSTATUS=" + status);
}

void SystemdNotifier::reloading() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading the configuration");
}

void SystemdNotifier::stopping(const std::string& status) {
  stop_watchdog();
  send("STOPPING=1\nSTATUS=" + status);
}

void SystemdNotifier::start_watchdog(std::function<bool(std::chrono::milliseconds)> healthy) {
  if (watchdog_timeout_.count() == 0 || watchdog_.joinable()) return;
  spdlog::info("systemd watchdog: {} ms, pinging every {} ms",
               std::chrono::duration_cast<std::chrono::milliseconds>(watchdog_timeout_).count(),
               std::chrono::duration_cast<std::chrono::milliseconds>(watchdog_timeout_ / 2).count());
  watchdog_ = std::thread([this, healthy = std::move(healthy)] { watchdog_loop(healthy); });
}

void SystemdNotifier::stop_watchdog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

void SystemdNotifier::watchdog_loop(std::function<bool(std::chrono::milliseconds)> healthy) {
  auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(watchdog_timeout_ / 2);
  auto deadline = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(interval / 2),
                           std::chrono::milliseconds(1));
  bool was_healthy = true;
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    bool ok = false;
    try {
      ok = healthy(deadline);
    } catch (const std::exception& e) {
      spdlog::warn("systemd watchdog: health check failed: {}", e.what());
    }
    if (ok) {
      send("WATCHDOG=1");
      if (!was_healthy) spdlog::info("systemd watchdog: crispd answers again, pinging");
    } else if (was_healthy) {
      spdlog::error("systemd watchdog: crispd does not answer on its CRI socket; not pinging "
                    "(systemd restarts it after WatchdogSec)");
    }
    was_healthy = ok;
    next += interval;
    std::unique_lock lock(mu_);
    if (wake_.wait_until(lock, next, [&] { return stop_; })) return;
  }
}

}  // namespace crisp::cri
