#pragma once
// crispd's configuration: built-in defaults, then /etc/crisp/crisp.toml (or --config), then drop-ins
// <config dir>/crisp.d/*.toml in lexical order (last wins), then command-line flags.
// Every option is described once, in config.cc's option table; `crispd config default` prints that
// table as a commented TOML file, and the loader refuses unknown keys and bad values naming the file
// and line.
#include <string>
#include <vector>

namespace crisp::cri {

struct Config {
  // top level
  std::string socket = "/run/crisp/crisp.sock";
  std::string root = "/var/lib/crisp";
  std::string state = "/run/crisp";
  std::string log_level = "info";
  std::string log_format = "text";
  std::string cgroup_driver = "auto";
  // [runtime]
  std::string monitor_path;  // empty: crisp-monitor next to the crispd binary
  int max_container_log_line_size = 16384;
  std::string runtime_default_seccomp = "";  // reserved
  // [image]
  std::string registry_config_dir = "/etc/crisp/certs.d";
  int max_concurrent_downloads = 3;
  int pull_progress_timeout_seconds = 60;
  // [network]
  std::string network_mode = "auto";
  std::string pod_cidr = "10.88.0.0/16";
  std::string cni_conf_dir = "/etc/cni/net.d";
  std::vector<std::string> cni_bin_dirs = {"/opt/cni/bin", "/usr/lib/cni"};
  std::string bridge = "crisp0";
  std::string nft_table = "crisp";
  // [streaming]
  std::string stream_address = "127.0.0.1:0";
  int stream_token_timeout_seconds = 60;
  // [metrics]
  std::string metrics_address;  // HOST:PORT of the Prometheus endpoint; empty: off

  // Files that were read to make this config, in order (for `config dump` and Status verbose).
  std::vector<std::string> sources;
};

inline constexpr const char* kDefaultConfigPath = "/etc/crisp/crisp.toml";

// The default config as a commented TOML document.
std::string default_config_toml();
// The config as TOML (what `config dump` prints).
std::string config_to_toml(const Config& config);
// The config as a JSON object string (Status verbose info).
std::string config_to_json(const Config& config);

// Merges one TOML file into `config`. Throws crisp::Error (kInvalidArgument) naming file and line
// for a parse error, an unknown key or a value of the wrong type or out of range.
void merge_config_file(Config& config, const std::string& path);

// Loads defaults + `path` (must exist when `required`) + its drop-in directory.
Config load_config(const std::string& path, bool required);

// Checks cross-field constraints (log level names, modes, ranges). Throws kInvalidArgument.
void validate_config(const Config& config);

// One option of the table, as the flag parser, `config reference` and SIGHUP see it.
struct ConfigOption {
  std::string key;          // dotted TOML key: "image.max_concurrent_downloads"
  std::string flag;         // its command-line flag: "--max-concurrent-downloads"
  std::string help;
  bool repeatable = false;  // a list: the flag may be given several times, one element each
  bool live = false;        // SIGHUP applies a change without a restart
};
// Every option, in the order of `config default`.
std::vector<ConfigOption> config_options();

// The option's value in `config` as TOML text ('info', 3, ['/a', '/b']). Throws kInvalidArgument
// for an unknown key.
std::string config_value(const Config& config, const std::string& key);

// Sets the option `key` from command-line values, one per occurrence of its flag (the last wins,
// except for a repeatable option, which takes them all). Checks them as the TOML loader does;
// throws kInvalidArgument naming the flag.
void set_config_flag(Config& config, const std::string& key, const std::vector<std::string>& values);

// A Markdown table of every option: key, flag, default, description (`crispd config reference`,
// README.md's configuration reference).
std::string config_reference_markdown();

}  // namespace crisp::cri
