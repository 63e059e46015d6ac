// SystemdManager over the system bus with libsystemd's sd-bus.
#include <systemd/sd-bus.h>
#include <time.h>

#include <cstring>
#include <mutex>

#include "runtime/base/error.h"
#include "runtime/cgroups/systemd_driver.h"

namespace crisp::cgroups {

namespace {

constexpr const char* kDest = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr uint64_t kJobTimeoutUsec = 10 * 1000 * 1000;

void check(int r, const std::string& what) {
  if (r < 0) throw_errno(ErrorKind::kInternal, -r, what);
}

// Frees an sd_bus_message / sd_bus_error at scope exit.
struct MessageRef {
  sd_bus_message* m = nullptr;
  ~MessageRef() { sd_bus_message_unref(m); }
};
struct ErrorRef {
  sd_bus_error e = SD_BUS_ERROR_NULL;
  ~ErrorRef() { sd_bus_error_free(&e); }
};

void append_property(sd_bus_message* m, const UnitProperty& p) {
  check(sd_bus_message_open_container(m, 'r', "sv"), "open property");
  check(sd_bus_message_append(m, "s", p.name.c_str()), "append property name");
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          check(sd_bus_message_append(m, "v", "b", v ? 1 : 0), "append " + p.name);
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          check(sd_bus_message_append(m, "v", "t", v), "append " + p.name);
        } else if constexpr (std::is_same_v<T, std::string>) {
          check(sd_bus_message_append(m, "v", "s", v.c_str()), "append " + p.name);
        } else if constexpr (std::is_same_v<T, PidList>) {
          check(sd_bus_message_open_container(m, 'v', "au"), "open " + p.name);
          check(sd_bus_message_append_array(m, 'u', v.data(), v.size() * sizeof(uint32_t)), "append " + p.name);
          check(sd_bus_message_close_container(m), "close " + p.name);
        } else {
          check(sd_bus_message_open_container(m, 'v', "ay"), "open " + p.name);
          check(sd_bus_message_append_array(m, 'y', v.data(), v.size()), "append " + p.name);
          check(sd_bus_message_close_container(m), "close " + p.name);
        }
      },
      p.value);
  check(sd_bus_message_close_container(m), "close property");
}

void append_properties(sd_bus_message* m, const std::vector<UnitProperty>& props) {
  check(sd_bus_message_open_container(m, 'a', "(sv)"), "open properties");
  for (const auto& p : props) append_property(m, p);
  check(sd_bus_message_close_container(m), "close properties");
}

class SdBusSystemdManager : public SystemdManager {
 public:
  SdBusSystemdManager() {
    int r = sd_bus_open_system(&bus_);
    if (r < 0) throw_errno(ErrorKind::kUnavailable, -r, "connect to the systemd system bus");
    ErrorRef err;
    MessageRef reply;
    // Without Subscribe() systemd does not send JobRemoved to us.
    sd_bus_call_method(bus_, kDest, kPath, kManager, "Subscribe", &err.e, &reply.m, "");
  }
  ~SdBusSystemdManager() override { sd_bus_flush_close_unref(bus_); }

  void start_transient_unit(const std::string& unit, const std::vector<UnitProperty>& properties) override {
    std::lock_guard lock(mu_);
    MessageRef call;
    check(sd_bus_message_new_method_call(bus_, &call.m, kDest, kPath, kManager, "StartTransientUnit"), "new call");
    check(sd_bus_message_append(call.m, "ss", unit.c_str(), "replace"), "append unit");
    append_properties(call.m, properties);
    check(sd_bus_message_append(call.m, "a(sa(sv))", 0), "append aux");
    run_job(call.m, unit, "start " + unit);
  }

  void set_unit_properties(const std::string& unit, const std::vector<UnitProperty>& properties) override {
    std::lock_guard lock(mu_);
    MessageRef call;
    check(sd_bus_message_new_method_call(bus_, &call.m, kDest, kPath, kManager, "SetUnitProperties"), "new call");
    check(sd_bus_message_append(call.m, "sb", unit.c_str(), 1), "append unit");
    append_properties(call.m, properties);
    ErrorRef err;
    MessageRef reply;
    int r = sd_bus_call(bus_, call.m, 0, &err.e, &reply.m);
    if (r < 0) throw_bus_error(err.e, r, "set properties of " + unit);
  }

  void stop_unit(const std::string& unit) override {
    std::lock_guard lock(mu_);
    MessageRef call;
    check(sd_bus_message_new_method_call(bus_, &call.m, kDest, kPath, kManager, "StopUnit"), "new call");
    check(sd_bus_message_append(call.m, "ss", unit.c_str(), "replace"), "append unit");
    try {
      run_job(call.m, unit, "stop " + unit);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound) throw;
    }
  }

 private:
  struct JobWait {
    std::string job;
    bool done = false;
    std::string result;
  };

  static int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* wait = static_cast<JobWait*>(userdata);
    uint32_t id;
    const char *job, *unit, *result;
    if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0) return 0;
    if (wait->job == job) {
      wait->done = true;
      wait->result = result;
    }
    return 0;
  }

  [[noreturn]] static void throw_bus_error(const sd_bus_error& e, int r, const std::string& what) {
    std::string name = e.name ? e.name : "";
    std::string message = what + ": " + (e.message ? e.message : std::strerror(-r));
    if (name == "org.freedesktop.systemd1.UnitExists") throw Error(ErrorKind::kAlreadyExists, message);
    if (name == "org.freedesktop.systemd1.NoSuchUnit") throw Error(ErrorKind::kNotFound, message);
    throw Error(ErrorKind::kInternal, message);
  }

  // Calls a method returning a job path and waits for its JobRemoved signal.
  void run_job(sd_bus_message* call, const std::string& unit, const std::string& what) {
    JobWait wait;
    sd_bus_slot* slot = nullptr;
    check(sd_bus_match_signal(bus_, &slot, kDest, kPath, kManager, "JobRemoved", on_job_removed, &wait),
          "match JobRemoved");
    struct SlotRef {
      sd_bus_slot* s;
      ~SlotRef() { sd_bus_slot_unref(s); }
    } slot_ref{slot};
    ErrorRef err;
    MessageRef reply;
    int r = sd_bus_call(bus_, call, 0, &err.e, &reply.m);
    if (r < 0) throw_bus_error(err.e, r, what);
    const char* job = nullptr;
    check(sd_bus_message_read(reply.m, "o", &job), "read job path");
    wait.job = job;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t deadline = static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000 +
                        kJobTimeoutUsec;
    while (!wait.done) {
      r = sd_bus_process(bus_, nullptr);
      check(r, "process bus");
      if (r > 0) continue;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      uint64_t now = static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
      if (now >= deadline) throw Error(ErrorKind::kDeadlineExceeded, what + ": systemd job did not finish");
      check(sd_bus_wait(bus_, deadline - now), "wait on bus");
    }
    if (wait.result != "done") {
      throw Error(ErrorKind::kInternal, what + ": systemd job for " + unit + " ended with \"" + wait.result + "\"");
    }
  }

  std::mutex mu_;  // guards bus_ (sd-bus connections are not thread-safe)
  sd_bus* bus_ = nullptr;
};

}  // namespace

std::unique_ptr<SystemdManager> make_sd_bus_systemd_manager() { return std::make_unique<SdBusSystemdManager>(); }

}  // namespace crisp::cgroups
