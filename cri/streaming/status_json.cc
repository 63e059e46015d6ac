#include "cri/streaming/status_json.h"

#include <nlohmann/json.hpp>

namespace crisp::streaming {

namespace {

// As containerd words the error of a command that exited non-zero: "[sh -c exit 3]" is Go's %v
// of the argv.
std::string exit_message(const CommandResult& result, const std::vector<std::string>& cmd) {
  std::string argv = "[";
  for (size_t i = 0; i < cmd.size(); ++i) argv += (i ? " " : "") + cmd[i];
  argv += "]";
  return "command terminated with non-zero exit code: error executing command " + argv + ", exit code " +
         std::to_string(result.exit_code);
}

}  // namespace

std::string status_json(const CommandResult& result, const std::vector<std::string>& cmd) {
  nlohmann::ordered_json status;
  status["metadata"] = nlohmann::ordered_json::object();
  if (result.error.empty() && result.exit_code == 0) {
    status["status"] = "Success";
    return status.dump();
  }
  status["status"] = "Failure";
  if (!result.error.empty()) {
    status["message"] = "Internal error occurred: " + result.error;
    status["reason"] = "InternalError";
    status["details"] = {{"causes", {{{"message", result.error}}}}};
    status["code"] = 500;
    return status.dump();
  }
  status["message"] = exit_message(result, cmd);
  status["reason"] = "NonZeroExitCode";
  status["details"] = {{"causes", {{{"reason", "ExitCode"}, {"message", std::to_string(result.exit_code)}}}}};
  return status.dump();
}

std::string status_text(const CommandResult& result, const std::vector<std::string>& cmd) {
  if (!result.error.empty()) return "Internal error occurred: " + result.error;
  if (result.exit_code == 0) return "";
  return exit_message(result, cmd);
}

}  // namespace crisp::streaming
