#include "runtime/cgroups/device_filter_v2.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/base/error.h"
#include "runtime/base/unique_fd.h"

namespace crisp::cgroups {

namespace {

BpfInstruction insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  return BpfInstruction{code, static_cast<uint8_t>((dst & 0xf) | ((src & 0xf) << 4)), off, imm};
}

// Registers: R2 = device type, R3 = requested access, R4 = major, R5 = minor.
constexpr uint8_t R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5, R6 = 6;

BpfInstruction load_ctx_word(uint8_t dst, int16_t offset) {
  return insn(BPF_LDX | BPF_W | BPF_MEM, dst, R6, offset, 0);
}

uint32_t access_mask(const std::string& access) {
  uint32_t mask = 0;
  for (char c : access) {
    if (c == 'r') mask |= BPF_DEVCG_ACC_READ;
    if (c == 'w') mask |= BPF_DEVCG_ACC_WRITE;
    if (c == 'm') mask |= BPF_DEVCG_ACC_MKNOD;
  }
  return mask;
}

int bpf(int cmd, union bpf_attr* attr) { return static_cast<int>(::syscall(SYS_bpf, cmd, attr, sizeof(*attr))); }

}  // namespace

std::vector<BpfInstruction> build_device_program(const std::vector<DeviceRule>& rules) {
  std::vector<BpfInstruction> prog;
  prog.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_X, R6, R1, 0, 0));  // R6 = ctx
  prog.push_back(load_ctx_word(R2, offsetof(struct bpf_cgroup_dev_ctx, access_type)));
  prog.push_back(insn(BPF_ALU | BPF_AND | BPF_K, R2, 0, 0, 0xFFFF));
  prog.push_back(load_ctx_word(R3, offsetof(struct bpf_cgroup_dev_ctx, access_type)));
  prog.push_back(insn(BPF_ALU | BPF_RSH | BPF_K, R3, 0, 0, 16));
  prog.push_back(load_ctx_word(R4, offsetof(struct bpf_cgroup_dev_ctx, major)));
  prog.push_back(load_ctx_word(R5, offsetof(struct bpf_cgroup_dev_ctx, minor)));

  // Last rule wins: test rules from the end, the first match decides.
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const DeviceRule& rule = *it;
    std::vector<BpfInstruction> block;
    // Each conditional jump skips to the end of this block; offsets are fixed up below.
    std::vector<size_t> jumps;
    if (rule.type != 'a') {
      int32_t type = rule.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
      jumps.push_back(block.size());
      block.push_back(insn(BPF_JMP | BPF_JNE | BPF_K, R2, 0, 0, type));
    }
    uint32_t access = access_mask(rule.access);
    if (rule.type != 'a' &&
        access != (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)) {
      // Every requested access bit must be in the rule: (R3 & access) == R3.
      block.push_back(insn(BPF_ALU | BPF_MOV | BPF_X, R1, R3, 0, 0));
      block.push_back(insn(BPF_ALU | BPF_AND | BPF_K, R1, 0, 0, static_cast<int32_t>(access)));
      jumps.push_back(block.size());
      block.push_back(insn(BPF_JMP | BPF_JNE | BPF_X, R1, R3, 0, 0));
    }
    if (rule.type != 'a' && rule.major >= 0) {
      jumps.push_back(block.size());
      block.push_back(insn(BPF_JMP | BPF_JNE | BPF_K, R4, 0, 0, static_cast<int32_t>(rule.major)));
    }
    if (rule.type != 'a' && rule.minor >= 0) {
      jumps.push_back(block.size());
      block.push_back(insn(BPF_JMP | BPF_JNE | BPF_K, R5, 0, 0, static_cast<int32_t>(rule.minor)));
    }
    block.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, rule.allow ? 1 : 0));
    block.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    for (size_t j : jumps) block[j].off = static_cast<int16_t>(block.size() - j - 1);
    prog.insert(prog.end(), block.begin(), block.end());
    // An unconditional rule ends the program: nothing after it is reachable.
    if (jumps.empty()) return prog;
  }
  prog.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 0));
  prog.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  return prog;
}

void attach_device_program(const std::string& cgroup_dir, const std::vector<DeviceRule>& rules) {
  std::vector<BpfInstruction> prog = build_device_program(rules);
  static const char kLicense[] = "Apache";
  auto load_program = [&](char* log, uint32_t log_size) {
    union bpf_attr load;
    std::memset(&load, 0, sizeof load);
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = reinterpret_cast<uint64_t>(prog.data());
    load.insn_cnt = static_cast<uint32_t>(prog.size());
    load.license = reinterpret_cast<uint64_t>(kLicense);
    load.log_buf = reinterpret_cast<uint64_t>(log);
    load.log_size = log_size;
    load.log_level = log ? 1 : 0;
    return bpf(BPF_PROG_LOAD, &load);
  };
  UniqueFd prog_fd(load_program(nullptr, 0));
  if (!prog_fd) {
    int err = errno;
    // Load again with the verifier's log for the message.
    std::string log(1 << 16, '\0');
    UniqueFd again(load_program(log.data(), static_cast<uint32_t>(log.size())));
    log.resize(std::strlen(log.c_str()));
    if (log.size() > 2000) log = log.substr(log.size() - 2000);
    throw_errno(ErrorKind::kInternal, err, "load device cgroup program (" + log + ")");
  }
  ::fcntl(prog_fd.get(), F_SETFD, FD_CLOEXEC);
  UniqueFd cgroup_fd(::open(cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup_fd) throw_errno("open cgroup " + cgroup_dir);

  // The programs attached before (to detach after the new one is in place: no gap).
  uint32_t old_ids[64];
  union bpf_attr query;
  std::memset(&query, 0, sizeof query);
  query.query.target_fd = static_cast<uint32_t>(cgroup_fd.get());
  query.query.attach_type = BPF_CGROUP_DEVICE;
  query.query.prog_ids = reinterpret_cast<uint64_t>(old_ids);
  query.query.prog_cnt = 64;
  uint32_t old_count = bpf(BPF_PROG_QUERY, &query) == 0 ? query.query.prog_cnt : 0;

  union bpf_attr attach;
  std::memset(&attach, 0, sizeof attach);
  attach.target_fd = static_cast<uint32_t>(cgroup_fd.get());
  attach.attach_bpf_fd = static_cast<uint32_t>(prog_fd.get());
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, &attach) != 0) throw_errno("attach device cgroup program to " + cgroup_dir);

  for (uint32_t i = 0; i < old_count && i < 64; ++i) {
    union bpf_attr get;
    std::memset(&get, 0, sizeof get);
    get.prog_id = old_ids[i];
    UniqueFd old_fd(bpf(BPF_PROG_GET_FD_BY_ID, &get));
    if (!old_fd) continue;
    union bpf_attr detach;
    std::memset(&detach, 0, sizeof detach);
    detach.target_fd = static_cast<uint32_t>(cgroup_fd.get());
    detach.attach_bpf_fd = static_cast<uint32_t>(old_fd.get());
    detach.attach_type = BPF_CGROUP_DEVICE;
    bpf(BPF_PROG_DETACH, &detach);
  }
}

}  // namespace crisp::cgroups
