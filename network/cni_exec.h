#pragma once
// Running one CNI plugin binary: environment per the CNI spec, config on stdin, stdout/stderr
// collected, killed after a timeout.
#include <string>
#include <vector>

namespace crisp::network {

struct CniInvocation {
  std::string plugin_path;
  std::string command;       // ADD | DEL | CHECK | VERSION
  std::string container_id;  // the sandbox id
  std::string netns;
  std::string ifname = "eth0";
  std::string args;          // CNI_ARGS
  std::string cni_path;      // CNI_PATH: the bin dirs joined by ':'
  std::string stdin_data;
  int timeout_ms = 60000;
};

struct CniOutput {
  int exit_code = 0;  // -1 when the exit status was lost (reaped elsewhere)
  std::string out, err;
};

// Runs the plugin. Throws kDeadlineExceeded on timeout, kInternal if it cannot start.
CniOutput run_cni_plugin(const CniInvocation& invocation);

// The first <dir>/<type> that is an executable file. kNotFound naming the dirs otherwise.
std::string find_cni_plugin(const std::string& type, const std::vector<std::string>& bin_dirs);

}  // namespace crisp::network
