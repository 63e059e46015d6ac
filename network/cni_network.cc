#include "network/cni_network.h"

#include <dirent.h>
#include <unistd.h>

#include <cerrno>

#include "network/cni_exec.h"
#include "network/cni_result.h"
#include "network/netns.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::network {

namespace {

constexpr const char* kIfname = "eth0";

bool mentions_missing_netns(const std::string& text) {
  for (const char* needle : {"no such file or directory", "No such file or directory", "netns",
                             "network namespace", "does not exist"}) {
    if (text.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

CniNetwork::CniNetwork(std::vector<std::string> bin_dirs, std::string cache_dir, int timeout_ms)
    : bin_dirs_(std::move(bin_dirs)), cache_dir_(std::move(cache_dir)), timeout_ms_(timeout_ms) {
  for (const auto& dir : bin_dirs_) cni_path_ += (cni_path_.empty() ? "" : ":") + dir;
}

std::string CniNetwork::cache_path(const std::string& sandbox_id) const {
  return cache_dir_ + "/" + sandbox_id + ".json";
}

bool CniNetwork::has_cache(const std::string& sandbox_id) const {
  return ::access(cache_path(sandbox_id).c_str(), F_OK) == 0;
}

std::vector<std::string> CniNetwork::cached_sandbox_ids() const {
  std::vector<std::string> ids;
  DIR* dir = ::opendir(cache_dir_.c_str());
  if (!dir) return ids;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    const std::string suffix = ".json";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      ids.push_back(name.substr(0, name.size() - suffix.size()));
    }
  }
  ::closedir(dir);
  return ids;
}

nlohmann::json CniNetwork::run_plugin(const CniNetworkConfig& config, size_t index,
                                      const std::string& command, const std::string& sandbox_id,
                                      const std::string& netns, const std::string& args,
                                      const nlohmann::json& prev_result,
                                      const nlohmann::json& runtime_config) {
  const std::string type = config.plugins.at(index).at("type");
  CniInvocation inv;
  inv.plugin_path = find_cni_plugin(type, bin_dirs_);
  inv.command = command;
  inv.container_id = sandbox_id;
  inv.netns = netns;
  inv.ifname = kIfname;
  inv.args = args;
  inv.cni_path = cni_path_;
  inv.stdin_data = plugin_stdin_config(config, index, prev_result, runtime_config).dump();
  inv.timeout_ms = timeout_ms_;
  CniOutput output = run_cni_plugin(inv);
  bool failed = output.exit_code != 0;
  nlohmann::json result;
  if (!output.out.empty()) result = nlohmann::json::parse(output.out, nullptr, false);
  if (output.exit_code == -1) {
    failed = result.is_discarded() || (result.is_object() && result.contains("code"));
  }
  if (failed) {
    throw Error(ErrorKind::kInternal,
                "CNI plugin " + type + " failed (" + command + ") for network " + config.name +
                    ": " + cni_error_text(output.out, output.err, output.exit_code));
  }
  if (command != "ADD") return nullptr;
  if (result.is_discarded() || !result.is_object()) {
    throw Error(ErrorKind::kInternal, "CNI plugin " + type + " returned an invalid result: " + output.out);
  }
  return result;
}

std::string CniNetwork::del_all(const CniNetworkConfig& config, const std::string& sandbox_id,
                                const std::string& netns, const std::string& args,
                                const nlohmann::json& prev_result,
                                const nlohmann::json& runtime_config) {
  const bool netns_gone = !netns_exists(netns);
  const bool pass_prev = compare_cni_versions(config.cni_version, "0.4.0") >= 0;
  std::string first_error;
  for (size_t i = config.plugins.size(); i-- > 0;) {
    try {
      run_plugin(config, i, "DEL", sandbox_id, netns, args, pass_prev ? prev_result : nullptr,
                 runtime_config);
    } catch (const Error& e) {
      if (netns_gone && mentions_missing_netns(e.what())) continue;
      if (first_error.empty()) first_error = e.what();
    }
  }
  return first_error;
}

PodNetworkResult CniNetwork::add(const CniNetworkConfig& config, const PodNetworkRequest& request) {
  make_dirs(cache_dir_, 0700);
  const std::string args = compose_cni_args(request);
  const nlohmann::json runtime_config = full_runtime_config(request);
  nlohmann::json cached = {{"config", config.to_json()}, {"file", config.file},
                           {"netns", request.netns_path}, {"ifname", kIfname}, {"args", args},
                           {"runtimeConfig", runtime_config}, {"result", nullptr}};
  // Written before ADD so that a crash half-way is still cleaned up by recover().
  atomic_write_file(cache_path(request.sandbox_id), cached.dump(), 0600);
  nlohmann::json result = nullptr;
  try {
    for (size_t i = 0; i < config.plugins.size(); ++i) {
      result = run_plugin(config, i, "ADD", request.sandbox_id, request.netns_path, args, result,
                          runtime_config);
    }
    PodNetworkResult parsed = parse_cni_result(result, kIfname);
    cached["result"] = result;
    atomic_write_file(cache_path(request.sandbox_id), cached.dump(), 0600);
    return parsed;
  } catch (...) {
    del_all(config, request.sandbox_id, request.netns_path, args, result, runtime_config);
    ::unlink(cache_path(request.sandbox_id).c_str());
    throw;
  }
}

void CniNetwork::del(const std::string& sandbox_id) {
  auto text = read_file_if_exists(cache_path(sandbox_id));
  if (!text) return;
  auto cached = nlohmann::json::parse(*text, nullptr, false);
  if (cached.is_discarded() || !cached.contains("config")) {
    ::unlink(cache_path(sandbox_id).c_str());  // unusable; nothing we can run DEL with
    return;
  }
  CniNetworkConfig config = CniNetworkConfig::from_json(cached["config"], cached.value("file", ""));
  std::string error = del_all(config, sandbox_id, cached.value("netns", ""), cached.value("args", ""),
                              cached.value("result", nlohmann::json()),
                              cached.value("runtimeConfig", nlohmann::json::object()));
  if (!error.empty()) throw Error(ErrorKind::kInternal, error);
  if (::unlink(cache_path(sandbox_id).c_str()) != 0 && errno != ENOENT) {
    throw_errno("remove " + cache_path(sandbox_id));
  }
}

void CniNetwork::check(const std::string& sandbox_id) {
  auto text = read_file_if_exists(cache_path(sandbox_id));
  if (!text) throw Error(ErrorKind::kNotFound, "no CNI network set up for sandbox " + sandbox_id);
  auto cached = nlohmann::json::parse(*text, nullptr, false);
  if (cached.is_discarded() || !cached.contains("config") || cached["result"].is_null()) {
    throw Error(ErrorKind::kInternal, "CNI cache of sandbox " + sandbox_id + " is incomplete");
  }
  CniNetworkConfig config = CniNetworkConfig::from_json(cached["config"], cached.value("file", ""));
  if (config.disable_check || compare_cni_versions(config.cni_version, "0.4.0") < 0) return;
  for (size_t i = 0; i < config.plugins.size(); ++i) {
    run_plugin(config, i, "CHECK", sandbox_id, cached.value("netns", ""), cached.value("args", ""),
               cached["result"], cached.value("runtimeConfig", nlohmann::json::object()));
  }
}

}  // namespace crisp::network
