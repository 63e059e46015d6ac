// PodNetwork: picks the mode (built-in or the CNI config of the watched conf dir), keeps a record
// per pod so each pod is torn down by the mode that set it up, and recovers after a restart.
#include <mutex>
#include <set>

#include "network/builtin_network.h"
#include "network/cni_config.h"
#include "network/cni_network.h"
#include "network/conf_dir_watch.h"
#include "network/network.h"
#include "network/pod_record.h"
#include "runtime/base/cleanup.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::network {

namespace {

void check_sandbox_id(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 128 && id[0] != '.';
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) ok = false;
  }
  if (!ok) throw Error(ErrorKind::kInvalidArgument, "invalid sandbox id \"" + id + "\"");
}

// The options, with the state dir created.
NetworkOptions prepared(NetworkOptions options) {
  make_dirs(options.state_dir, 0700);
  return options;
}

}  // namespace

NetworkMode parse_network_mode(const std::string& text) {
  if (text == "auto") return NetworkMode::kAuto;
  if (text == "builtin") return NetworkMode::kBuiltin;
  if (text == "cni") return NetworkMode::kCni;
  throw Error(ErrorKind::kInvalidArgument,
              "invalid network mode \"" + text + "\" (want auto, builtin or cni)");
}

// The pod's IPs in a result, primary first.
static std::vector<std::string> ips_of(const PodNetworkResult& result) {
  std::vector<std::string> ips;
  if (!result.ip.empty()) ips.push_back(result.ip);
  ips.insert(ips.end(), result.additional_ips.begin(), result.additional_ips.end());
  return ips;
}

class PodNetwork::Impl {
 public:
  explicit Impl(NetworkOptions options)
      : options_(prepared(std::move(options))),
        records_(options_.state_dir + "/pods"),
        builtin_(options_),
        cni_(options_.cni_bin_dirs, options_.state_dir + "/cni", options_.cni_plugin_timeout_ms),
        watch_(options_.cni_conf_dir) {}

  // The CNI config the next setup would use (nullopt: built-in, or CNI mode not ready).
  std::optional<CniNetworkConfig> cni_config(std::string* why_not = nullptr) const {
    if (options_.mode == NetworkMode::kBuiltin) return std::nullopt;
    std::lock_guard lock(config_mutex_);
    if (watch_.changed()) selection_ = select_cni_config(options_.cni_conf_dir);
    if (why_not) *why_not = selection_.error;
    return selection_.config;
  }

  PodNetworkResult setup(const PodNetworkRequest& request) {
    check_sandbox_id(request.sandbox_id);
    if (request.netns_path.empty()) {
      throw Error(ErrorKind::kInvalidArgument, "no network namespace path for sandbox " + request.sandbox_id);
    }
    if (records_.load(request.sandbox_id)) {
      throw Error(ErrorKind::kAlreadyExists, "network of sandbox " + request.sandbox_id + " is already set up");
    }
    std::string why_not;
    auto config = cni_config(&why_not);
    PodRecord record;
    PodNetworkResult result;
    if (config) {
      result = cni_.add(*config, request);
      Cleanup undo([&] { cni_.del(request.sandbox_id); });
      record.sandbox_id = request.sandbox_id;
      record.mode = "cni";
      record.ip = result.ip;
      record.netns_path = request.netns_path;
      record.ips = ips_of(result);
      records_.save(record);
      undo.dismiss();
    } else if (options_.mode == NetworkMode::kCni) {
      throw Error(ErrorKind::kFailedPrecondition, "network plugin not ready: " + why_not);
    } else {
      // A crash before the record is saved leaves IPs/host ports without a record: recover()
      // (which always follows a crash) releases those even when the pod lives on.
      result = builtin_.setup(request, record);
      Cleanup undo([&] { builtin_.teardown(record, true); });
      record.ips = ips_of(result);
      records_.save(record);
      undo.dismiss();
    }
    return result;
  }

  void teardown(const PodNetworkRequest& request, bool netns_going_away) {
    check_sandbox_id(request.sandbox_id);
    auto record = records_.load(request.sandbox_id);
    if (!record) {
      // Never set up, already torn down, or a crash between CNI ADD and the record.
      if (cni_.has_cache(request.sandbox_id)) cni_.del(request.sandbox_id);
      return;
    }
    teardown_record(*record, !netns_going_away);
  }

  void teardown_record(const PodRecord& record, bool delete_veth) {
    if (record.mode == "cni") {
      cni_.del(record.sandbox_id);
    } else {
      builtin_.teardown(record, delete_veth);
    }
    records_.remove(record.sandbox_id);
  }

  void check(const PodNetworkRequest& request) {
    check_sandbox_id(request.sandbox_id);
    auto record = records_.load(request.sandbox_id);
    if (!record) throw Error(ErrorKind::kNotFound, "no network set up for sandbox " + request.sandbox_id);
    if (record->mode == "cni") {
      cni_.check(request.sandbox_id);
    } else {
      builtin_.check(*record);
    }
  }

  Status status() const {
    Status status;
    if (options_.mode != NetworkMode::kCni) return status;
    std::string why_not;
    if (!cni_config(&why_not)) {
      status.ready = false;
      status.reason = "NetworkPluginNotReady";
      status.message = "Network plugin returns error: cni plugin not initialized: " + why_not;
    }
    return status;
  }

  std::string mode() const {
    if (auto config = cni_config()) return "cni:" + config->name;
    return options_.mode == NetworkMode::kCni ? "" : "builtin";
  }

  void set_pod_cidr(const std::string& cidr) { builtin_.set_pod_cidr(cidr); }

  void set_cni_conf_dir(const std::string& dir) {
    std::lock_guard lock(config_mutex_);
    options_.cni_conf_dir = dir;
    watch_ = ConfDirWatch(dir);  // reports a change on its first call: the config is re-selected
  }

  std::optional<PodNetworkResult> recorded_result(const std::string& sandbox_id) const {
    auto record = records_.load(sandbox_id);
    if (!record) return std::nullopt;
    std::vector<std::string> ips = record->ips;
    if (ips.empty()) {  // a record written before "ips" existed
      if (!record->ip.empty()) ips.push_back(record->ip);
      if (!record->ipv6.empty()) ips.push_back(record->ipv6);
    }
    if (ips.empty()) return std::nullopt;
    PodNetworkResult result;
    result.ip = ips.front();
    result.additional_ips.assign(ips.begin() + 1, ips.end());
    return result;
  }

  void recover(const std::vector<std::string>& live_ids) {
    std::set<std::string> live(live_ids.begin(), live_ids.end());
    std::set<std::string> live_veths;
    std::set<std::string> with_record;  // live pods whose setup finished (saved its record)
    std::string first_error;
    auto note = [&](const Error& e) {
      if (first_error.empty()) first_error = e.what();
    };
    for (const auto& id : records_.sandbox_ids()) {
      auto record = records_.load(id);
      if (!record) {
        records_.remove(id);
        continue;
      }
      if (live.count(id)) {
        with_record.insert(id);
        if (!record->host_veth.empty()) live_veths.insert(record->host_veth);
        continue;
      }
      try {
        teardown_record(*record, true);
      } catch (const Error& e) {
        note(e);
      }
    }
    for (const auto& id : cni_.cached_sandbox_ids()) {
      if (live.count(id)) continue;
      try {
        cni_.del(id);
      } catch (const Error& e) {
        note(e);
      }
    }
    try {
      // IPs and host ports are kept only for those: a live pod without a record is one whose
      // setup a crash cut short (it never got its network).
      builtin_.recover(with_record, live_veths);
    } catch (const Error& e) {
      note(e);
    }
    if (!first_error.empty()) throw Error(ErrorKind::kInternal, "network recovery: " + first_error);
  }

 private:
  NetworkOptions options_;
  PodRecordStore records_;
  BuiltinNetwork builtin_;
  CniNetwork cni_;
  mutable std::mutex config_mutex_;  // guards watch_, selection_ and options_.cni_conf_dir
  mutable ConfDirWatch watch_;
  mutable CniConfigSelection selection_;
};

PodNetwork::PodNetwork(NetworkOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
PodNetwork::~PodNetwork() = default;
PodNetworkResult PodNetwork::setup(const PodNetworkRequest& request) { return impl_->setup(request); }
void PodNetwork::teardown(const PodNetworkRequest& request, bool netns_going_away) {
  impl_->teardown(request, netns_going_away);
}
void PodNetwork::check(const PodNetworkRequest& request) { impl_->check(request); }
PodNetwork::Status PodNetwork::status() const { return impl_->status(); }
void PodNetwork::set_pod_cidr(const std::string& cidr) { impl_->set_pod_cidr(cidr); }
void PodNetwork::set_cni_conf_dir(const std::string& dir) { impl_->set_cni_conf_dir(dir); }
std::optional<PodNetworkResult> PodNetwork::recorded_result(const std::string& sandbox_id) const {
  return impl_->recorded_result(sandbox_id);
}
void PodNetwork::recover(const std::vector<std::string>& live_sandbox_ids) {
  impl_->recover(live_sandbox_ids);
}
std::string PodNetwork::mode() const { return impl_->mode(); }

}  // namespace crisp::network
