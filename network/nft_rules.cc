#include "network/nft_rules.h"

#include <nftables/libnftables.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "network/ipv4.h"
#include "network/ipv6.h"
#include "runtime/base/error.h"

namespace crisp::network {

namespace {

// Table names and sandbox ids go into nft scripts: only [A-Za-z0-9._-] is let through.
void check_token(const std::string& what, const std::string& token) {
  bool ok = !token.empty() && token.size() <= 128;
  for (char c : token) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) ok = false;
  }
  if (!ok) throw Error(ErrorKind::kInvalidArgument, "invalid " + what + " \"" + token + "\"");
}

std::string element_value_to_nft(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number()) return std::to_string(value.get<long long>());
  if (value.is_object() && value.contains("concat")) {
    std::string out;
    for (const auto& part : value["concat"]) {
      if (!out.empty()) out += " . ";
      out += element_value_to_nft(part);
    }
    return out;
  }
  throw Error(ErrorKind::kInternal, "nft: unexpected element " + value.dump());
}

}  // namespace

bool host_port_applies(IpFamily family, const PortMapping& mapping) {
  if (mapping.host_port == 0) return false;  // no host port: nothing to forward
  if (mapping.host_ip.empty()) return true;
  bool ipv6_host = mapping.host_ip.find(':') != std::string::npos;
  return ipv6_host == (family == IpFamily::kIpv6);
}

HostPortElement host_port_element(IpFamily family, const std::string& pod_ip, const PortMapping& mapping) {
  const bool ipv6 = family == IpFamily::kIpv6;
  const std::string& proto = mapping.protocol;
  std::string protocol = proto.empty() ? "tcp" : proto;
  for (auto& c : protocol) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (protocol != "tcp" && protocol != "udp" && protocol != "sctp") {
    throw Error(ErrorKind::kInvalidArgument, "unsupported port mapping protocol \"" + proto + "\"");
  }
  auto valid_port = [](int port) { return port > 0 && port < 65536; };
  if (!valid_port(mapping.host_port) || !valid_port(mapping.container_port)) {
    throw Error(ErrorKind::kInvalidArgument,
                "invalid port mapping " + std::to_string(mapping.host_port) + " -> " +
                    std::to_string(mapping.container_port));
  }
  // Addresses are parsed and printed again: only canonical address text reaches nft.
  auto canonical = [ipv6](const std::string& ip) {
    return ipv6 ? format_ipv6(parse_ipv6(ip)) : format_ipv4(parse_ipv4(ip));
  };
  HostPortElement element;
  element.key = protocol + " . " + std::to_string(mapping.host_port);
  const std::string& host_ip = mapping.host_ip;
  if (host_ip.empty() || host_ip == (ipv6 ? "::" : "0.0.0.0") ||
      (ipv6 && host_ip.find(':') != std::string::npos && parse_ipv6(host_ip) == 0)) {
    element.map = "hostport_any";
  } else {
    element.map = "hostport_ip";
    element.key = canonical(host_ip) + " . " + element.key;
  }
  element.value = canonical(pod_ip) + " . " + std::to_string(mapping.container_port);
  return element;
}

HostPortElement host_port_element(uint32_t pod_ip, const PortMapping& mapping) {
  return host_port_element(IpFamily::kIpv4, format_ipv4(pod_ip), mapping);
}

NftRules::NftRules(std::string table, IpFamily family)
    : table_(std::move(table)), family_(family) {
  check_token("nftables table name", table_);
  qualified_ = (family_ == IpFamily::kIpv6 ? "ip6 " : "ip ") + table_;
  ctx_ = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx_) throw Error(ErrorKind::kInternal, "nft: cannot create context");
  nft_ctx_buffer_output(ctx_);
  nft_ctx_buffer_error(ctx_);
}

NftRules::~NftRules() { nft_ctx_free(ctx_); }

std::string NftRules::run(const std::string& script, bool json_output, ErrorKind kind) {
  nft_ctx_output_set_flags(ctx_, json_output ? NFT_CTX_OUTPUT_JSON : 0);
  int rc = nft_run_cmd_from_buffer(ctx_, script.c_str());
  std::string output = nft_ctx_get_output_buffer(ctx_);
  std::string errors = nft_ctx_get_error_buffer(ctx_);
  if (rc != 0) {
    while (!errors.empty() && errors.back() == '\n') errors.pop_back();
    throw Error(kind, "nftables: " + errors);
  }
  return output;
}

void NftRules::ensure(const std::string& pod_cidr) {
  const bool ipv6 = family_ == IpFamily::kIpv6;
  std::string cidr = ipv6 ? parse_ipv6_prefix(pod_cidr).to_string() : parse_ipv4_prefix(pod_cidr).to_string();
  const std::string& t = qualified_;
  const std::string addr_type = ipv6 ? "ipv6_addr" : "ipv4_addr";
  const std::string ip = ipv6 ? "ip6" : "ip";
  std::string script =
      "add table " + t + "\n"
      "add set " + t + " pod_cidrs { type " + addr_type + "; flags interval; auto-merge; }\n"
      "add map " + t + " hostport_any { type inet_proto . inet_service : " + addr_type + " . inet_service; }\n"
      "add map " + t + " hostport_ip { type " + addr_type + " . inet_proto . inet_service : " + addr_type + " . inet_service; }\n"
      "add chain " + t + " prerouting { type nat hook prerouting priority dstnat; policy accept; }\n"
      "add chain " + t + " output { type nat hook output priority -100; policy accept; }\n"
      "add chain " + t + " postrouting { type nat hook postrouting priority srcnat; policy accept; }\n"
      "add chain " + t + " hostports\n"
      "flush chain " + t + " prerouting\n"
      "flush chain " + t + " output\n"
      "flush chain " + t + " postrouting\n"
      "flush chain " + t + " hostports\n"
      "add rule " + t + " prerouting fib daddr type local jump hostports\n"
      "add rule " + t + " output fib daddr type local jump hostports\n"
      "add rule " + t + " hostports dnat " + ip + " to " + ip + " daddr . meta l4proto . th dport map @hostport_ip\n"
      "add rule " + t + " hostports dnat " + ip + " to meta l4proto . th dport map @hostport_any\n"
      // Pod egress leaving the pod CIDRs.
      "add rule " + t + " postrouting " + ip + " saddr @pod_cidrs " + ip + " daddr != @pod_cidrs masquerade\n"
      // Hairpin: a pod reaching a host port that lands on a pod (itself or a neighbour).
      "add rule " + t + " postrouting ct status dnat " + ip + " saddr @pod_cidrs " + ip + " daddr @pod_cidrs masquerade\n";
  // localhost:hostport (needs route_localnet on the bridge; IPv6 has no such thing).
  if (!ipv6) script += "add rule " + t + " postrouting ct status dnat ip saddr 127.0.0.0/8 masquerade\n";
  script += "add element " + t + " pod_cidrs { " + cidr + " }\n";
  std::lock_guard lock(mutex_);
  run(script);
}

void NftRules::add_host_ports(const std::string& sandbox_id, const std::string& pod_ip,
                              const std::vector<PortMapping>& mappings) {
  if (mappings.empty()) return;
  check_token("sandbox id", sandbox_id);
  std::string script;
  for (const auto& mapping : mappings) {
    if (!host_port_applies(family_, mapping)) continue;
    HostPortElement e = host_port_element(family_, pod_ip, mapping);
    script += "create element " + qualified_ + " " + e.map + " { " + e.key + " comment \"" +
              sandbox_id + "\" : " + e.value + " }\n";
  }
  if (script.empty()) return;
  std::lock_guard lock(mutex_);
  try {
    run(script);
  } catch (const Error& e) {
    std::string text = e.what();
    if (text.find("File exists") != std::string::npos) {
      throw Error(ErrorKind::kAlreadyExists, "host port already in use by another pod: " + text);
    }
    throw;
  }
}

void NftRules::remove_host_ports(const std::string& sandbox_id, const std::string& pod_ip,
                                 const std::vector<PortMapping>& mappings) {
  std::string script;
  for (const auto& mapping : mappings) {
    if (!host_port_applies(family_, mapping)) continue;
    HostPortElement e = host_port_element(family_, pod_ip, mapping);
    script += "delete element " + qualified_ + " " + e.map + " { " + e.key + " }\n";
  }
  if (!script.empty()) {
    std::lock_guard lock(mutex_);
    try {
      run(script);
      return;
    } catch (const Error&) {
      // Some were gone already (or the table was): fall back to removing by owner.
    }
  } else {
    return;
  }
  remove_owner(sandbox_id);
}

bool NftRules::table_exists() {
  try {
    run("list table " + qualified_, true);
    return true;
  } catch (const Error&) {
    return false;
  }
}

namespace {

// (map name, key in nft syntax, owner) of every element of the host-port maps.
struct ListedElement {
  std::string map, key, owner;
};

std::vector<ListedElement> parse_map_listing(const std::string& json_text) {
  std::vector<ListedElement> result;
  auto doc = nlohmann::json::parse(json_text, nullptr, false);
  if (doc.is_discarded() || !doc.contains("nftables")) return result;
  for (const auto& item : doc["nftables"]) {
    if (!item.contains("map")) continue;
    const auto& map = item["map"];
    std::string name = map.value("name", "");
    if (!map.contains("elem")) continue;
    for (const auto& pair : map["elem"]) {
      if (!pair.is_array() || pair.size() != 2) continue;
      const auto& key = pair[0];
      ListedElement element;
      element.map = name;
      if (key.is_object() && key.contains("elem")) {
        element.key = element_value_to_nft(key["elem"]["val"]);
        element.owner = key["elem"].value("comment", "");
      } else {
        element.key = element_value_to_nft(key);
      }
      result.push_back(std::move(element));
    }
  }
  return result;
}

}  // namespace

std::set<std::string> NftRules::owners() {
  std::set<std::string> result;
  std::lock_guard lock(mutex_);
  if (!table_exists()) return result;
  for (const char* map : {"hostport_any", "hostport_ip"}) {
    std::string listing = run("list map " + qualified_ + " " + map, true);
    for (const auto& element : parse_map_listing(listing)) result.insert(element.owner);
  }
  return result;
}

void NftRules::remove_owner(const std::string& sandbox_id) {
  std::lock_guard lock(mutex_);
  if (!table_exists()) return;
  std::string script;
  for (const char* map : {"hostport_any", "hostport_ip"}) {
    std::string listing = run("list map " + qualified_ + " " + map, true);
    for (const auto& element : parse_map_listing(listing)) {
      if (element.owner != sandbox_id) continue;
      script += "delete element " + qualified_ + " " + element.map + " { " + element.key + " }\n";
    }
  }
  if (!script.empty()) run(script);
}

void NftRules::destroy() {
  std::lock_guard lock(mutex_);
  if (table_exists()) run("delete table " + qualified_);
}

}  // namespace crisp::network
