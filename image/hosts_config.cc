#include "image/hosts_config.h"

#include <algorithm>
#include <sstream>
#include <toml++/toml.h>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::image {

namespace {

[[noreturn]] void bad(const std::string& source, const std::string& why) {
  throw Error(ErrorKind::kInvalidArgument, source + ": " + why);
}

std::string resolve_path(const std::string& base_dir, const std::string& p) {
  if (p.empty() || p.front() == '/' || base_dir.empty()) return p;
  return base_dir + "/" + p;
}

// Splits "scheme://host[:port][/path]" into a RegistryHost.
RegistryHost host_from_url(const std::string& url, bool override_path, const std::string& source) {
  RegistryHost h;
  size_t sep = url.find("://");
  if (sep == std::string::npos) bad(source, "host \"" + url + "\" must be a URL like https://host[:port]");
  h.scheme = url.substr(0, sep);
  if (h.scheme != "http" && h.scheme != "https") bad(source, "host \"" + url + "\": scheme must be http or https");
  std::string rest = url.substr(sep + 3);
  size_t slash = rest.find('/');
  h.host = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (h.host.empty()) bad(source, "host \"" + url + "\" has no host name");
  if (path.empty()) {
    h.path = "/v2";
  } else if (override_path) {
    h.path = path;
  } else if (path.size() >= 3 && path.compare(path.size() - 3, 3, "/v2") == 0) {
    h.path = path;
  } else {
    h.path = path + "/v2";
  }
  return h;
}

std::vector<std::string> strings_of(const toml::node* node, const std::string& source, const std::string& what) {
  std::vector<std::string> out;
  if (!node) return out;
  if (auto s = node->value<std::string>()) {
    out.push_back(*s);
  } else if (const toml::array* arr = node->as_array()) {
    for (const auto& v : *arr) {
      auto s2 = v.value<std::string>();
      if (!s2) bad(source, what + " must hold strings");
      out.push_back(*s2);
    }
  } else {
    bad(source, what + " must be a string or a list of strings");
  }
  return out;
}

void apply_host_settings(RegistryHost& h, const toml::table& t, const std::string& base_dir,
                         const std::string& source, bool set_capabilities) {
  if (set_capabilities) {
    if (const toml::node* caps = t.get("capabilities")) {
      h.pull = h.resolve = false;
      for (const auto& c : strings_of(caps, source, "capabilities")) {
        if (c == "pull") h.pull = true;
        else if (c == "resolve") h.resolve = true;
        else if (c != "push") bad(source, "unknown capability \"" + c + "\"");
      }
    }
  }
  if (const toml::node* sv = t.get("skip_verify")) {
    auto b = sv->value<bool>();
    if (!b) bad(source, "skip_verify must be true or false");
    h.skip_verify = *b;
  }
  for (const auto& ca : strings_of(t.get("ca"), source, "ca")) h.ca_files.push_back(resolve_path(base_dir, ca));
  if (const toml::node* client = t.get("client")) {
    if (auto s = client->value<std::string>()) {
      h.client_certs.emplace_back(resolve_path(base_dir, *s), "");
    } else if (const toml::array* arr = client->as_array()) {
      for (const auto& v : *arr) {
        if (auto s2 = v.value<std::string>()) {
          h.client_certs.emplace_back(resolve_path(base_dir, *s2), "");
        } else if (const toml::array* pair = v.as_array()) {
          std::vector<std::string> parts = strings_of(pair, source, "client");
          if (parts.empty() || parts.size() > 2) bad(source, "client pairs are [cert, key]");
          h.client_certs.emplace_back(resolve_path(base_dir, parts[0]),
                                      parts.size() == 2 ? resolve_path(base_dir, parts[1]) : "");
        } else {
          bad(source, "client must be a path, a list of paths or a list of [cert, key]");
        }
      }
    } else {
      bad(source, "client must be a path, a list of paths or a list of [cert, key]");
    }
  }
  if (const toml::node* header = t.get("header")) {
    const toml::table* ht = header->as_table();
    if (!ht) bad(source, "header must be a table");
    for (const auto& [k, v] : *ht) {
      std::vector<std::string> values = strings_of(&v, source, "header " + std::string(k.str()));
      std::string joined;
      for (const auto& s : values) joined += (joined.empty() ? "" : ", ") + s;
      h.headers[std::string(k.str())] = joined;
    }
  }
}

}  // namespace

bool is_loopback_host(const std::string& host_port) {
  std::string host = host_port;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos) {
    host.resize(colon);
  }
  return host == "localhost" || host == "127.0.0.1" || host == "::1";
}

RegistryHost default_registry_host(const std::string& domain) {
  RegistryHost h;
  h.host = domain == "docker.io" ? "registry-1.docker.io" : domain;
  h.scheme = is_loopback_host(domain) ? "http" : "https";
  return h;
}

std::vector<RegistryHost> parse_hosts_toml(const std::string& text, const std::string& domain,
                                           const std::string& base_dir, const std::string& source) {
  toml::table doc;
  try {
    doc = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "line " << e.source().begin.line << ": " << e.description();
    bad(source, msg.str());
  }
  std::vector<RegistryHost> out;
  // [host."url"] tables, in the order they appear in the file (toml::table is sorted by key).
  if (const toml::node* hosts_node = doc.get("host")) {
    const toml::table* hosts = hosts_node->as_table();
    if (!hosts) bad(source, "host must be a table of [host.\"<url>\"] entries");
    std::vector<std::pair<uint32_t, RegistryHost>> ordered;
    for (const auto& [key, value] : *hosts) {
      const toml::table* t = value.as_table();
      if (!t) bad(source, "host.\"" + std::string(key.str()) + "\" must be a table");
      bool override_path = t->get("override_path") && t->get("override_path")->value_or(false);
      RegistryHost h = host_from_url(std::string(key.str()), override_path, source);
      apply_host_settings(h, *t, base_dir, source, true);
      ordered.emplace_back(key.source().begin.line, std::move(h));
    }
    std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [line, h] : ordered) out.push_back(std::move(h));
  }
  RegistryHost server = default_registry_host(domain);
  if (const toml::node* s = doc.get("server")) {
    auto url = s->value<std::string>();
    if (!url) bad(source, "server must be a URL string");
    bool override_path = doc.get("override_path") && doc.get("override_path")->value_or(false);
    server = host_from_url(*url, override_path, source);
  }
  // Top-level settings (skip_verify, ca, client, header) apply to the server.
  apply_host_settings(server, doc, base_dir, source, true);
  out.push_back(std::move(server));
  return out;
}

std::vector<RegistryHost> registry_hosts(const std::string& config_dir, const std::string& domain) {
  if (!config_dir.empty()) {
    for (const std::string& dir_name : {domain, std::string("_default")}) {
      std::string dir = config_dir + "/" + dir_name;
      std::string path = dir + "/hosts.toml";
      if (auto text = read_file_if_exists(path)) return parse_hosts_toml(*text, domain, dir, path);
    }
  }
  return {default_registry_host(domain)};
}

}  // namespace crisp::image
