#pragma once
// The streaming server's backend on top of the runtime: exec through `crisp-monitor exec` (pipes,
// --tty with --resize-fd), attach through the monitor's control socket `attach` command, and
// port-forward by connecting from a thread that entered the pod's network namespace.
#include <string>

#include "cri/streaming/backend.h"

namespace crisp::runtime {
class Runtime;
}

namespace crisp::cri {

class RuntimeStreamBackend final : public streaming::StreamBackend {
 public:
  // state_dir: crispd's state directory (exec process specs go to <state_dir>/exec/; the monitors'
  // control sockets are <state_dir>/sock/<id[:24]>.sock).
  RuntimeStreamBackend(runtime::Runtime& runtime, std::string monitor_path, std::string state_dir);

  std::unique_ptr<streaming::ProcessStreams> start_exec(const streaming::ExecSpec& spec) override;
  std::unique_ptr<streaming::ProcessStreams> attach(const streaming::AttachSpec& spec) override;
  UniqueFd port_forward_connect(const std::string& sandbox_id, uint16_t port) override;

 private:
  runtime::Runtime& runtime_;
  std::string monitor_path_;
  std::string state_dir_;
};

}  // namespace crisp::cri
