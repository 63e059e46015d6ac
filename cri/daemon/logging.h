#pragma once
// crispd's own log (stderr): text, or JSON lines {"time","level","msg",...}; both carry the pod and
// container ids of the RPC being served (cri/log_fields.h).
#include <string>

namespace crisp::cri {

// Throws kInvalidArgument for an unknown level or format.
void setup_logging(const std::string& level, const std::string& format);
void set_log_level(const std::string& level);

}  // namespace crisp::cri
