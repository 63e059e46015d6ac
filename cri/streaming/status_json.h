#pragma once
// The final status of an exec/attach as the Kubernetes streaming protocols report it on the error
// stream: a metav1.Status JSON object (v4 and later) or, for the older protocols, the bare error
// message (nothing at all on success).
#include <string>
#include <vector>

namespace crisp::streaming {

struct CommandResult {
  int exit_code = 0;
  std::string error;  // non-empty: the command could not run (internal error)
};

// {"metadata":{},"status":"Success"}, or a Failure with reason NonZeroExitCode and a cause
// {"reason":"ExitCode","message":"<code>"}, or a Failure with reason InternalError (code 500).
std::string status_json(const CommandResult& result, const std::vector<std::string>& cmd);
// The message the pre-v4 protocols write on the error stream; "" on success.
std::string status_text(const CommandResult& result, const std::vector<std::string>& cmd);

}  // namespace crisp::streaming
