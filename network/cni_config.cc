#include "network/cni_config.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <sstream>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::network {

namespace {

bool has_suffix(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<std::string> cni_config_files(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return names;
  while (dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (name.empty() || name[0] == '.') continue;
    if (has_suffix(name, ".conflist") || has_suffix(name, ".conf") || has_suffix(name, ".json")) {
      names.push_back(name);
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  std::vector<std::string> paths;
  for (const auto& name : names) paths.push_back(dir + "/" + name);
  return paths;
}

CniNetworkConfig CniNetworkConfig::from_json(const nlohmann::json& conflist, const std::string& file) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorKind::kInvalidArgument, "CNI config " + file + ": " + why);
  };
  if (!conflist.is_object()) throw bad("not a JSON object");
  CniNetworkConfig config;
  config.file = file;
  if (!conflist.contains("name") || !conflist["name"].is_string() ||
      conflist["name"].get<std::string>().empty()) {
    throw bad("no network name");
  }
  config.name = conflist["name"];
  config.cni_version = conflist.value("cniVersion", std::string("0.1.0"));
  if (conflist.contains("disableCheck") && conflist["disableCheck"].is_boolean()) {
    config.disable_check = conflist["disableCheck"];
  }
  if (!conflist.contains("plugins") || !conflist["plugins"].is_array() ||
      conflist["plugins"].empty()) {
    throw bad("no plugins");
  }
  for (const auto& plugin : conflist["plugins"]) {
    if (!plugin.is_object() || !plugin.contains("type") || !plugin["type"].is_string() ||
        plugin["type"].get<std::string>().empty()) {
      throw bad("a plugin without a type");
    }
    const std::string type = plugin["type"];
    if (type.find('/') != std::string::npos || type == "." || type == "..") {
      throw bad("invalid plugin type \"" + type + "\"");
    }
  }
  config.plugins = conflist["plugins"];
  return config;
}

nlohmann::json CniNetworkConfig::to_json() const {
  nlohmann::json j = {{"cniVersion", cni_version}, {"name", name}, {"plugins", plugins}};
  if (disable_check) j["disableCheck"] = true;
  return j;
}

CniNetworkConfig load_cni_config(const std::string& path) {
  std::string text = read_file(path);
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded()) {
    throw Error(ErrorKind::kInvalidArgument, "CNI config " + path + ": invalid JSON");
  }
  if (has_suffix(path, ".conflist")) return CniNetworkConfig::from_json(doc, path);
  // A single-plugin config: wrap it in a conflist.
  if (!doc.is_object()) throw Error(ErrorKind::kInvalidArgument, "CNI config " + path + ": not an object");
  if (doc.contains("plugins")) return CniNetworkConfig::from_json(doc, path);
  nlohmann::json conflist = {{"cniVersion", doc.value("cniVersion", std::string("0.1.0"))},
                             {"name", doc.value("name", std::string())},
                             {"plugins", nlohmann::json::array({doc})}};
  return CniNetworkConfig::from_json(conflist, path);
}

CniConfigSelection select_cni_config(const std::string& dir) {
  CniConfigSelection selection;
  auto files = cni_config_files(dir);
  for (const auto& file : files) {
    try {
      selection.config = load_cni_config(file);
      return selection;
    } catch (const Error& e) {
      if (!selection.error.empty()) selection.error += "; ";
      selection.error += e.what();
    }
  }
  std::string none = "no network config found in " + dir;
  selection.error = selection.error.empty() ? none : none + " (" + selection.error + ")";
  return selection;
}

std::string compose_cni_args(const PodNetworkRequest& request) {
  return "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + request.pod_namespace +
         ";K8S_POD_NAME=" + request.pod_name +
         ";K8S_POD_INFRA_CONTAINER_ID=" + request.sandbox_id + ";K8S_POD_UID=" + request.pod_uid;
}

nlohmann::json full_runtime_config(const PodNetworkRequest& request) {
  nlohmann::json rc = nlohmann::json::object();
  nlohmann::json ports = nlohmann::json::array();
  for (const auto& m : request.port_mappings) {
    if (m.host_port <= 0) continue;
    std::string protocol = m.protocol.empty() ? "tcp" : m.protocol;
    std::transform(protocol.begin(), protocol.end(), protocol.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    nlohmann::json p = {{"hostPort", m.host_port}, {"containerPort", m.container_port},
                        {"protocol", protocol}};
    if (!m.host_ip.empty()) p["hostIP"] = m.host_ip;
    ports.push_back(p);
  }
  rc["portMappings"] = ports;
  const auto& bw = request.bandwidth;
  if (bw.ingress_rate || bw.ingress_burst || bw.egress_rate || bw.egress_burst) {
    nlohmann::json b = nlohmann::json::object();
    if (bw.ingress_rate) b["ingressRate"] = bw.ingress_rate;
    if (bw.ingress_burst) b["ingressBurst"] = bw.ingress_burst;
    if (bw.egress_rate) b["egressRate"] = bw.egress_rate;
    if (bw.egress_burst) b["egressBurst"] = bw.egress_burst;
    rc["bandwidth"] = b;
  }
  if (!request.dns.servers.empty() || !request.dns.searches.empty() || !request.dns.options.empty()) {
    rc["dns"] = {{"servers", request.dns.servers}, {"searches", request.dns.searches},
                 {"options", request.dns.options}};
  }
  if (!request.cgroup_parent.empty()) rc["cgroupPath"] = request.cgroup_parent;
  return rc;
}

nlohmann::json plugin_stdin_config(const CniNetworkConfig& config, size_t index,
                                   const nlohmann::json& prev_result,
                                   const nlohmann::json& runtime_config) {
  nlohmann::json plugin = config.plugins.at(index);
  plugin["name"] = config.name;
  plugin["cniVersion"] = config.cni_version;
  if (!prev_result.is_null()) plugin["prevResult"] = prev_result;
  nlohmann::json rc = nlohmann::json::object();
  if (plugin.contains("capabilities") && plugin["capabilities"].is_object()) {
    for (const auto& [capability, enabled] : plugin["capabilities"].items()) {
      if (enabled.is_boolean() && enabled.get<bool>() && runtime_config.contains(capability)) {
        rc[capability] = runtime_config[capability];
      }
    }
  }
  if (!rc.empty()) {
    plugin["runtimeConfig"] = rc;
  } else {
    plugin.erase("runtimeConfig");
  }
  return plugin;
}

int compare_cni_versions(const std::string& a, const std::string& b) {
  auto parts = [](const std::string& v) {
    std::vector<int> out;
    std::stringstream ss(v);
    std::string item;
    while (std::getline(ss, item, '.')) {
      int n = 0;
      for (char c : item) {
        if (c < '0' || c > '9') break;
        n = n * 10 + (c - '0');
      }
      out.push_back(n);
    }
    out.resize(3, 0);
    return out;
  };
  auto pa = parts(a), pb = parts(b);
  return pa < pb ? -1 : (pa > pb ? 1 : 0);
}

}  // namespace crisp::network
