#pragma once
// The cgroup v2 device controller is an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) attached to
// the cgroup: crisp translates the v1-style rules into one, like runc's devicefilter.
#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/cgroups/device_rules.h"

namespace crisp::cgroups {

// One eBPF instruction, laid out like the kernel's struct bpf_insn (regs = dst | src << 4).
struct BpfInstruction {
  uint8_t code;
  uint8_t regs;
  int16_t off;
  int32_t imm;
};
static_assert(sizeof(BpfInstruction) == sizeof(struct bpf_insn));

// The program for rules with v1 semantics (a later rule overrides an earlier one; nothing
// matched = deny). Returns 1 (allow) or 0 (deny) for a bpf_cgroup_dev_ctx.
std::vector<BpfInstruction> build_device_program(const std::vector<DeviceRule>& rules);

// Loads the program and attaches it to the cgroup directory (BPF_F_ALLOW_MULTI), then detaches
// programs attached there before (an update replaces the rules). Throws kInternal with the
// kernel's verifier/bpf() error.
void attach_device_program(const std::string& cgroup_dir, const std::vector<DeviceRule>& rules);

}  // namespace crisp::cgroups
