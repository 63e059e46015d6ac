#pragma once
// ExecSync: runs `crisp-monitor exec --pid <container pid> --spec <file> -- cmd` (an
// ExecCommand's argv) with pipes for stdout/stderr, collects them (capped), and kills it on timeout.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "runtime/types.h"

namespace crisp::runtime {

struct ExecSyncRequest {
  std::vector<std::string> argv;  // the full command line; argv[0] is the crisp-monitor binary
  std::chrono::milliseconds timeout{0};  // 0 = none
  size_t max_output_bytes = 16 << 20;    // per stream; the rest is discarded
};

ExecResult run_exec_sync(const ExecSyncRequest& request);

}  // namespace crisp::runtime
