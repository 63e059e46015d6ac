#include "cri/daemon/config.h"

#include <dirent.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::cri {

namespace {

enum class Kind { kString, kInt, kStringList };

// One configurable option: its dotted TOML key, its help text, and how to read/write it. The
// table below fills `flag` and `live` after the constructors.
struct Option {
  std::string key;
  std::string help;
  std::function<void(Config&, const toml::node&, const std::string& where)> set;
  std::function<std::string(const Config&)> to_toml;
  std::function<nlohmann::json(const Config&)> to_json;
  Kind kind = Kind::kString;
  std::string flag;   // "--log-level"
  bool live = false;  // SIGHUP applies it
};

Option with_flag(Option option, std::string flag, bool live = false) {
  option.flag = std::move(flag);
  option.live = live;
  return option;
}

std::string quote(const std::string& s) {
  std::ostringstream out;
  out << toml::value<std::string>(s);
  return out.str();
}

Option string_option(std::string key, std::string help, std::string Config::*member,
                     std::vector<std::string> allowed = {}) {
  return Option{
      key, std::move(help),
      [member, allowed, key](Config& c, const toml::node& node, const std::string& where) {
        auto v = node.value<std::string>();
        if (!node.is_string() || !v)
          throw Error(ErrorKind::kInvalidArgument, where + ": " + key + " must be a string");
        if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), *v) == allowed.end()) {
          std::string list;
          for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
          throw Error(ErrorKind::kInvalidArgument,
                      where + ": " + key + " = \"" + *v + "\" is not one of: " + list);
        }
        c.*member = *v;
      },
      [member](const Config& c) { return quote(c.*member); },
      [member](const Config& c) { return nlohmann::json(c.*member); }, Kind::kString, "", false};
}

Option int_option(std::string key, std::string help, int Config::*member, int min, int max) {
  return Option{
      key, std::move(help),
      [member, key, min, max](Config& c, const toml::node& node, const std::string& where) {
        auto v = node.value<int64_t>();
        if (!node.is_integer() || !v)
          throw Error(ErrorKind::kInvalidArgument, where + ": " + key + " must be an integer");
        if (*v < min || *v > max)
          throw Error(ErrorKind::kInvalidArgument, where + ": " + key + " = " + std::to_string(*v) +
                                                       " is out of range [" + std::to_string(min) + ", " +
                                                       std::to_string(max) + "]");
        c.*member = static_cast<int>(*v);
      },
      [member](const Config& c) { return std::to_string(c.*member); },
      [member](const Config& c) { return nlohmann::json(c.*member); }, Kind::kInt, "", false};
}

Option string_list_option(std::string key, std::string help, std::vector<std::string> Config::*member) {
  return Option{
      key, std::move(help),
      [member, key](Config& c, const toml::node& node, const std::string& where) {
        const toml::array* arr = node.as_array();
        if (!arr) throw Error(ErrorKind::kInvalidArgument, where + ": " + key + " must be an array of strings");
        std::vector<std::string> out;
        for (const auto& el : *arr) {
          auto v = el.value<std::string>();
          if (!el.is_string() || !v)
            throw Error(ErrorKind::kInvalidArgument, where + ": " + key + " must be an array of strings");
          out.push_back(*v);
        }
        c.*member = std::move(out);
      },
      [member](const Config& c) {
        std::string s = "[";
        for (size_t i = 0; i < (c.*member).size(); ++i) s += (i ? ", " : "") + quote((c.*member)[i]);
        return s + "]";
      },
      [member](const Config& c) { return nlohmann::json(c.*member); }, Kind::kStringList, "", false};
}

const std::vector<Option>& options() {
  static const std::vector<Option> kOptions = {
      with_flag(string_option("socket", "Unix socket serving the CRI (runtime and image services).", &Config::socket),
                "--socket"),
      with_flag(string_option("root", "Persistent data: content store, snapshots, image and container records.",
                              &Config::root),
                "--root"),
      with_flag(string_option("state", "Runtime state: sockets, pinned namespaces, container bundles (tmpfs).",
                              &Config::state),
                "--state"),
      with_flag(string_option("log_level", "crispd's log level.", &Config::log_level,
                              {"trace", "debug", "info", "warn", "error", "critical", "off"}),
                "--log-level", true),
      with_flag(string_option("log_format", "crispd's log format: text, or json (one object per line).",
                              &Config::log_format, {"text", "json"}),
                "--log-format"),
      with_flag(string_option("cgroup_driver",
                              "Cgroup driver: auto (cgroupfs, v1 or v2 as the host has), cgroupfs, or systemd.",
                              &Config::cgroup_driver, {"auto", "cgroupfs", "systemd"}),
                "--cgroup-driver"),
      with_flag(string_option("runtime.monitor_path", "Path of crisp-monitor; empty means next to the crispd binary.",
                              &Config::monitor_path),
                "--monitor-path"),
      with_flag(int_option("runtime.max_container_log_line_size",
                           "Longest CRI log line; longer lines are split into partial (P) lines.",
                           &Config::max_container_log_line_size, 256, 1 << 24),
                "--max-container-log-line-size"),
      with_flag(string_option("image.registry_config_dir",
                              "Per-registry settings and mirrors, containerd's layout: <dir>/<host>/hosts.toml.",
                              &Config::registry_config_dir),
                "--registry-config-dir", true),
      with_flag(int_option("image.max_concurrent_downloads", "Layers downloaded in parallel per pull.",
                           &Config::max_concurrent_downloads, 1, 64),
                "--max-concurrent-downloads"),
      with_flag(int_option("image.pull_progress_timeout_seconds",
                           "A pull that makes no progress for this long fails (0 disables).",
                           &Config::pull_progress_timeout_seconds, 0, 86400),
                "--pull-progress-timeout-seconds"),
      with_flag(string_option("network.mode",
                              "Pod networking: auto (CNI when a config exists in cni_conf_dir, else built-in bridge), "
                              "builtin, or cni (not ready until a CNI config appears).",
                              &Config::network_mode, {"auto", "builtin", "cni"}),
                "--network-mode"),
      with_flag(string_option("network.pod_cidr",
                              "Pod address range(s) of the built-in bridge: one CIDR, or an IPv4,IPv6 dual-stack list "
                              "(the first gives the pod's primary IP); UpdateRuntimeConfig may set it. An IPv6 range "
                              "makes crispd set net.ipv6.conf.all.forwarding=1, as IPv4 sets net.ipv4.ip_forward=1.",
                              &Config::pod_cidr),
                "--pod-cidr"),
      with_flag(string_option("network.cni_conf_dir", "Directory of CNI network configs; the lexically first is used.",
                              &Config::cni_conf_dir),
                "--cni-conf-dir", true),
      with_flag(string_list_option("network.cni_bin_dirs", "Directories searched for CNI plugins, in order.",
                                   &Config::cni_bin_dirs),
                "--cni-bin-dir"),
      with_flag(string_option("network.bridge", "Linux bridge of the built-in network.", &Config::bridge), "--bridge"),
      with_flag(string_option("network.nft_table",
                              "nftables table (families ip and ip6) for the built-in network's masquerade and host ports.",
                              &Config::nft_table),
                "--nft-table"),
      with_flag(string_option("streaming.address",
                              "HOST:PORT of the exec/attach/port-forward server; port 0 picks a free one.",
                              &Config::stream_address),
                "--stream-address"),
      with_flag(int_option("streaming.token_timeout_seconds", "How long a streaming URL stays valid.",
                           &Config::stream_token_timeout_seconds, 1, 3600),
                "--stream-token-timeout-seconds"),
      with_flag(string_option("metrics.address",
                              "HOST:PORT serving Prometheus metrics at GET /metrics; empty turns them off.",
                              &Config::metrics_address),
                "--metrics-address"),
  };
  return kOptions;
}

const Option* find_option(const std::string& key) {
  for (const auto& opt : options())
    if (opt.key == key) return &opt;
  return nullptr;
}

std::string where(const std::string& path, const toml::source_region& src) {
  return path + ":" + std::to_string(src.begin.line);
}

void merge_table(Config& config, const toml::table& table, const std::string& prefix, const std::string& path) {
  for (const auto& [k, node] : table) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const toml::table* sub = node.as_table()) {
      bool is_section = false;
      for (const auto& opt : options())
        if (opt.key.rfind(key + ".", 0) == 0) is_section = true;
      if (!is_section)
        throw Error(ErrorKind::kInvalidArgument, where(path, node.source()) + ": unknown section [" + key + "]");
      merge_table(config, *sub, key, path);
      continue;
    }
    const Option* opt = find_option(key);
    if (!opt) throw Error(ErrorKind::kInvalidArgument, where(path, node.source()) + ": unknown key " + key);
    opt->set(config, node, where(path, node.source()));
  }
}

std::string section_of(const std::string& key) {
  auto dot = key.find('.');
  return dot == std::string::npos ? "" : key.substr(0, dot);
}

std::string render(const Config& config, bool with_help) {
  std::string out;
  if (with_help)
    out += "# crispd configuration (" + std::string(kDefaultConfigPath) +
           "). Drop-ins in crisp.d/*.toml beside it are merged in lexical order; flags override both.\n";
  std::string current;
  for (const auto& opt : options()) {
    std::string section = section_of(opt.key);
    if (section != current) {
      out += "\n[" + section + "]\n";
      current = section;
    }
    if (with_help) out += "# " + opt.help + "\n";
    std::string leaf = section.empty() ? opt.key : opt.key.substr(section.size() + 1);
    out += leaf + " = " + opt.to_toml(config) + "\n";
  }
  return out;
}

}  // namespace

std::string default_config_toml() { return render(Config{}, true); }

std::string config_to_toml(const Config& config) {
  std::string header;
  for (const auto& s : config.sources) header += "# from " + s + "\n";
  return header + render(config, false);
}

std::string config_to_json(const Config& config) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& opt : options()) j[opt.key] = opt.to_json(config);
  j["sources"] = config.sources;
  return j.dump();
}

void merge_config_file(Config& config, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw Error(ErrorKind::kInvalidArgument, where(path, e.source()) + ": " + std::string(e.description()));
  }
  merge_table(config, table, "", path);
  config.sources.push_back(path);
}

Config load_config(const std::string& path, bool required) {
  Config config;
  if (read_file_if_exists(path)) {
    merge_config_file(config, path);
  } else if (required) {
    throw Error(ErrorKind::kNotFound, "config file " + path + " does not exist");
  }
  auto slash = path.rfind('/');
  std::string dropin_dir = (slash == std::string::npos ? std::string(".") : path.substr(0, slash)) + "/crisp.d";
  if (DIR* dir = ::opendir(dropin_dir.c_str())) {
    std::set<std::string> names;
    while (struct dirent* ent = ::readdir(dir)) {
      std::string name = ent->d_name;
      if (name.size() > 5 && name.compare(name.size() - 5, 5, ".toml") == 0) names.insert(name);
    }
    ::closedir(dir);
    for (const auto& name : names) merge_config_file(config, dropin_dir + "/" + name);
  }
  validate_config(config);
  return config;
}

void validate_config(const Config& config) {
  auto require_abs = [](const std::string& what, const std::string& p) {
    if (p.empty() || p[0] != '/')
      throw Error(ErrorKind::kInvalidArgument, what + " must be an absolute path, got \"" + p + "\"");
  };
  auto require_one_of = [](const std::string& what, const std::string& v, std::initializer_list<const char*> allowed) {
    std::string list;
    for (const char* a : allowed) {
      if (v == a) return;
      list += (list.empty() ? "" : ", ") + std::string(a);
    }
    throw Error(ErrorKind::kInvalidArgument, what + " = \"" + v + "\" is not one of: " + list);
  };
  require_one_of("log_level", config.log_level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
  require_one_of("log_format", config.log_format, {"text", "json"});
  require_one_of("cgroup_driver", config.cgroup_driver, {"auto", "cgroupfs", "systemd"});
  require_one_of("network.mode", config.network_mode, {"auto", "builtin", "cni"});
  require_abs("socket", config.socket);
  require_abs("root", config.root);
  require_abs("state", config.state);
  if (config.stream_address.find(':') == std::string::npos)
    throw Error(ErrorKind::kInvalidArgument, "streaming.address must be HOST:PORT, got \"" + config.stream_address + "\"");
  if (!config.metrics_address.empty() && config.metrics_address.find(':') == std::string::npos)
    throw Error(ErrorKind::kInvalidArgument,
                "metrics.address must be HOST:PORT or empty, got \"" + config.metrics_address + "\"");
}

std::vector<ConfigOption> config_options() {
  std::vector<ConfigOption> out;
  for (const auto& opt : options())
    out.push_back(ConfigOption{opt.key, opt.flag, opt.help, opt.kind == Kind::kStringList, opt.live});
  return out;
}

std::string config_value(const Config& config, const std::string& key) {
  const Option* opt = find_option(key);
  if (!opt) throw Error(ErrorKind::kInvalidArgument, "unknown config key " + key);
  return opt->to_toml(config);
}

void set_config_flag(Config& config, const std::string& key, const std::vector<std::string>& values) {
  const Option* opt = find_option(key);
  if (!opt) throw Error(ErrorKind::kInvalidArgument, "unknown config key " + key);
  if (values.empty()) return;
  switch (opt->kind) {
    case Kind::kString:
      opt->set(config, toml::value<std::string>(values.back()), opt->flag);
      break;
    case Kind::kInt: {
      const std::string& text = values.back();
      int64_t n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || end != text.data() + text.size() || text.empty())
        throw Error(ErrorKind::kInvalidArgument, opt->flag + ": " + key + " must be an integer, got \"" + text + "\"");
      opt->set(config, toml::value<int64_t>(n), opt->flag);
      break;
    }
    case Kind::kStringList: {
      toml::array list;
      for (const auto& v : values) list.push_back(v);
      opt->set(config, list, opt->flag);
      break;
    }
  }
}

std::string config_reference_markdown() {
  // Table cells: no newlines, and a literal | would end the cell; in prose (not code spans) <dir>
  // would be taken for HTML.
  auto cell = [](const std::string& text, bool prose) {
    std::string out;
    for (char c : text) {
      if (c == '|') out += "\\|";
      else if (c == '\n') out += ' ';
      else if (prose && c == '<') out += "&lt;";
      else if (prose && c == '>') out += "&gt;";
      else out += c;
    }
    return out;
  };
  Config defaults;
  std::string out = "| key | flag | default | description |\n|---|---|---|---|\n";
  for (const auto& opt : options()) {
    std::string help = opt.help;
    if (opt.live) help += " SIGHUP applies a change.";
    out += "| `" + opt.key + "` | `" + opt.flag + "`" + (opt.kind == Kind::kStringList ? " (repeatable)" : "") +
           " | `" + cell(opt.to_toml(defaults), false) + "` | " + cell(help, true) + " |\n";
  }
  return out;
}

}  // namespace crisp::cri
