#pragma once
// Per-registry settings in containerd's hosts.toml layout (docs/hosts.md):
//   <config_dir>/<registry host>/hosts.toml, else <config_dir>/_default/hosts.toml
//     server = "https://registry-1.docker.io"        # the upstream (default: derived from the host)
//     [host."http://127.0.0.1:5000"]                   # mirrors, tried in file order before server
//       capabilities = ["pull", "resolve"]
//       skip_verify = true
//       ca = "/etc/certs/ca.pem"                       # or a list; relative to the host directory
//       client = [["/etc/certs/c.cert", "/etc/certs/c.key"]]   # or "c.pem" / ["c.pem"]
//       override_path = false                          # true: the URL path is the API root as is
//       [host."http://127.0.0.1:5000".header]
//         x-custom = "value"
// Without a file a registry is reached at https://<host>/v2 (docker.io at registry-1.docker.io);
// localhost, 127.0.0.1 and [::1] (any port) over plain HTTP.
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace crisp::image {

struct RegistryHost {
  std::string scheme = "https";  // "https" or "http"
  std::string host;              // "registry-1.docker.io", "127.0.0.1:5000"
  std::string path = "/v2";      // the API root on the host
  bool pull = true;              // may fetch blobs and manifests by digest
  bool resolve = true;           // may resolve tags to digests
  bool skip_verify = false;
  std::vector<std::string> ca_files;
  std::vector<std::pair<std::string, std::string>> client_certs;  // cert, key ("" = key in cert)
  std::map<std::string, std::string> headers;

  std::string api_root() const { return scheme + "://" + host + path; }  // "https://h/v2"
};

// The default host of a registry domain (no hosts.toml).
RegistryHost default_registry_host(const std::string& domain);

// Parses a hosts.toml document for registry `domain`; relative file paths are taken relative to
// `base_dir`. Mirrors first, in file order, then the server. Throws kInvalidArgument naming
// `source` on a syntax error or a bad value.
std::vector<RegistryHost> parse_hosts_toml(const std::string& text, const std::string& domain,
                                           const std::string& base_dir, const std::string& source);

// The hosts to try for `domain`, from config_dir (see above). Missing directory: the default.
std::vector<RegistryHost> registry_hosts(const std::string& config_dir, const std::string& domain);

// True when the host (without port) is localhost, 127.0.0.1 or ::1.
bool is_loopback_host(const std::string& host_port);

}  // namespace crisp::image
