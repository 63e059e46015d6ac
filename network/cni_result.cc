#include "network/cni_result.h"

#include "runtime/base/error.h"

namespace crisp::network {

namespace {

std::string strip_prefix_length(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  size_t start = 0;
  while (start < s.size() && (s[start] == ' ' || s[start] == '\n')) ++start;
  return s.substr(start);
}

}  // namespace

PodNetworkResult parse_cni_result(const nlohmann::json& result, const std::string& ifname) {
  PodNetworkResult out;
  out.interface = ifname;
  std::vector<std::string> v4, v6;
  std::string gateway4, gateway6;
  auto add = [&](const std::string& address, const std::string& gateway) {
    std::string ip = strip_prefix_length(address);
    if (ip.empty()) return;
    if (ip.find(':') != std::string::npos) {
      v6.push_back(ip);
      if (gateway6.empty()) gateway6 = gateway;
    } else {
      v4.push_back(ip);
      if (gateway4.empty()) gateway4 = gateway;
    }
  };
  if (result.is_object() && result.contains("ips") && result["ips"].is_array()) {
    // The index of the sandbox interface called ifname, if the result lists interfaces.
    int pod_interface = -1;
    if (result.contains("interfaces") && result["interfaces"].is_array()) {
      const auto& interfaces = result["interfaces"];
      for (size_t i = 0; i < interfaces.size(); ++i) {
        const auto& itf = interfaces[i];
        if (itf.is_object() && itf.value("name", "") == ifname && !itf.value("sandbox", "").empty()) {
          pod_interface = static_cast<int>(i);
          break;
        }
      }
    }
    bool any_on_pod_interface = false;
    for (const auto& ip : result["ips"]) {
      if (pod_interface >= 0 && ip.contains("interface") && ip["interface"].is_number_integer() &&
          ip["interface"].get<int>() == pod_interface) {
        any_on_pod_interface = true;
      }
    }
    for (const auto& ip : result["ips"]) {
      if (!ip.is_object() || !ip.contains("address") || !ip["address"].is_string()) continue;
      if (any_on_pod_interface &&
          !(ip.contains("interface") && ip["interface"].is_number_integer() &&
            ip["interface"].get<int>() == pod_interface)) {
        continue;
      }
      add(ip["address"], ip.value("gateway", ""));
    }
  } else if (result.is_object()) {  // 0.2.0
    for (const char* key : {"ip4", "ip6"}) {
      if (result.contains(key) && result[key].is_object() && result[key].contains("ip")) {
        add(result[key]["ip"], result[key].value("gateway", ""));
      }
    }
  }
  std::vector<std::string> all = v4;
  all.insert(all.end(), v6.begin(), v6.end());
  if (all.empty()) {
    throw Error(ErrorKind::kInternal, "CNI result has no IP address for " + ifname + ": " + result.dump());
  }
  out.ip = all.front();
  out.additional_ips.assign(all.begin() + 1, all.end());
  out.gateway = v4.empty() ? gateway6 : gateway4;
  return out;
}

std::string cni_error_text(const std::string& out, const std::string& err, int exit_code) {
  auto doc = nlohmann::json::parse(out, nullptr, false);
  if (!doc.is_discarded() && doc.is_object() && (doc.contains("msg") || doc.contains("code"))) {
    std::string text = doc.value("msg", "");
    std::string details = doc.value("details", "");
    if (!details.empty()) text += (text.empty() ? "" : ": ") + details;
    if (doc.contains("code") && doc["code"].is_number_integer()) {
      text += " (code " + std::to_string(doc["code"].get<int>()) + ")";
    }
    return text;
  }
  std::string text = trim(err);
  if (text.empty()) text = trim(out);
  if (text.empty()) text = "exit status " + std::to_string(exit_code);
  return text;
}

}  // namespace crisp::network
