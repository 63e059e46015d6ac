#include "runtime/security/seccomp_profile.h"

#include <openssl/evp.h>
#include <sys/utsname.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/security/capabilities.h"

namespace crisp::security {

namespace {

using json = nlohmann::json;

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorKind::kInvalidArgument, "invalid seccomp profile: " + message);
}

struct NamedAction {
  const char* name;
  SeccompAction action;
};
constexpr NamedAction kActions[] = {
    {"SCMP_ACT_KILL", SeccompAction::kKillThread},
    {"SCMP_ACT_KILL_THREAD", SeccompAction::kKillThread},
    {"SCMP_ACT_KILL_PROCESS", SeccompAction::kKillProcess},
    {"SCMP_ACT_TRAP", SeccompAction::kTrap},
    {"SCMP_ACT_ERRNO", SeccompAction::kErrno},
    {"SCMP_ACT_TRACE", SeccompAction::kTrace},
    {"SCMP_ACT_ALLOW", SeccompAction::kAllow},
    {"SCMP_ACT_LOG", SeccompAction::kLog},
};

struct NamedOp {
  const char* name;
  SeccompOp op;
};
constexpr NamedOp kOps[] = {
    {"SCMP_CMP_NE", SeccompOp::kNotEqual},     {"SCMP_CMP_LT", SeccompOp::kLessThan},
    {"SCMP_CMP_LE", SeccompOp::kLessEqual},    {"SCMP_CMP_EQ", SeccompOp::kEqualTo},
    {"SCMP_CMP_GE", SeccompOp::kGreaterEqual}, {"SCMP_CMP_GT", SeccompOp::kGreaterThan},
    {"SCMP_CMP_MASKED_EQ", SeccompOp::kMaskedEqual},
};

const char* action_name(SeccompAction action) {
  for (const auto& a : kActions) {
    if (a.action == action && std::string(a.name) != "SCMP_ACT_KILL") return a.name;
  }
  return "?";
}
const char* op_name(SeccompOp op) {
  for (const auto& o : kOps) {
    if (o.op == op) return o.name;
  }
  return "?";
}

SeccompAction parse_action(const json& j, const std::string& where) {
  if (!j.is_string()) invalid(where + ": action must be a string");
  std::string name = j.get<std::string>();
  if (name == "SCMP_ACT_NOTIFY") invalid(where + ": SCMP_ACT_NOTIFY (a seccomp agent) is not supported");
  for (const auto& a : kActions) {
    if (name == a.name) return a.action;
  }
  invalid(where + ": unknown action \"" + name + "\"");
}

uint32_t parse_u32(const json& j, const std::string& where) {
  if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<int64_t>() >= 0)) {
    invalid(where + " must be a non-negative integer");
  }
  uint64_t v = j.get<uint64_t>();
  if (v > 0xffffffffull) invalid(where + " is too large");
  return static_cast<uint32_t>(v);
}

uint64_t parse_u64(const json& j, const std::string& where) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer()) return static_cast<uint64_t>(j.get<int64_t>());
  invalid(where + " must be an integer");
}

// Go-style arch names Docker profiles use in includes/excludes.
bool arch_matches(const std::string& docker_arch, const std::string& scmp_arch) {
  if (scmp_arch == "SCMP_ARCH_X86_64") return docker_arch == "amd64" || docker_arch == "x86_64";
  if (scmp_arch == "SCMP_ARCH_AARCH64") return docker_arch == "arm64" || docker_arch == "aarch64";
  if (scmp_arch == "SCMP_ARCH_X86") return docker_arch == "386" || docker_arch == "x86";
  return false;
}

bool kernel_at_least(const std::string& version) {
  struct utsname u;
  if (::uname(&u) != 0) return true;
  int have_major = 0, have_minor = 0, want_major = 0, want_minor = 0;
  std::sscanf(u.release, "%d.%d", &have_major, &have_minor);
  if (std::sscanf(version.c_str(), "%d.%d", &want_major, &want_minor) < 1) invalid("minKernel \"" + version + "\"");
  return have_major > want_major || (have_major == want_major && have_minor >= want_minor);
}

bool has_all_caps(const json& caps, uint64_t bounding, const std::string& where) {
  if (!caps.is_array()) invalid(where + " must be an array");
  for (const auto& c : caps) {
    if (!c.is_string()) invalid(where + " must hold strings");
    int cap = capability_from_name(c.get<std::string>());
    if (cap >= 64 || !(bounding & (uint64_t{1} << cap))) return false;
  }
  return true;
}

bool has_any_cap(const json& caps, uint64_t bounding, const std::string& where) {
  if (!caps.is_array()) invalid(where + " must be an array");
  for (const auto& c : caps) {
    if (!c.is_string()) invalid(where + " must hold strings");
    int cap = capability_from_name(c.get<std::string>());
    if (cap < 64 && (bounding & (uint64_t{1} << cap))) return true;
  }
  return false;
}

bool has_arch(const json& arches, const std::string& native, const std::string& where) {
  if (!arches.is_array()) invalid(where + " must be an array");
  for (const auto& a : arches) {
    if (a.is_string() && arch_matches(a.get<std::string>(), native)) return true;
  }
  return false;
}

// Docker's conditions on a rule.
bool rule_applies(const json& entry, const SeccompContext& ctx, const std::string& where) {
  if (auto it = entry.find("includes"); it != entry.end() && !it->is_null()) {
    if (!it->is_object()) invalid(where + ".includes must be an object");
    if (auto c = it->find("caps"); c != it->end() && !c->empty() &&
                                   !has_all_caps(*c, ctx.bounding_capabilities, where + ".includes.caps")) {
      return false;
    }
    if (auto a = it->find("arches"); a != it->end() && !a->empty() &&
                                     !has_arch(*a, ctx.native_arch, where + ".includes.arches")) {
      return false;
    }
    if (auto k = it->find("minKernel"); k != it->end() && k->is_string() && !kernel_at_least(k->get<std::string>())) {
      return false;
    }
  }
  if (auto it = entry.find("excludes"); it != entry.end() && !it->is_null()) {
    if (!it->is_object()) invalid(where + ".excludes must be an object");
    if (auto c = it->find("caps"); c != it->end() && !c->empty() &&
                                   has_any_cap(*c, ctx.bounding_capabilities, where + ".excludes.caps")) {
      return false;
    }
    if (auto a = it->find("arches"); a != it->end() && !a->empty() &&
                                     has_arch(*a, ctx.native_arch, where + ".excludes.arches")) {
      return false;
    }
  }
  return true;
}

SeccompArg parse_arg(const json& j, const std::string& where) {
  if (!j.is_object()) invalid(where + " must be an object");
  SeccompArg arg;
  if (!j.contains("index")) invalid(where + ".index is missing");
  arg.index = parse_u32(j.at("index"), where + ".index");
  if (arg.index > 5) invalid(where + ".index must be 0..5");
  if (j.contains("value")) arg.value = parse_u64(j.at("value"), where + ".value");
  if (j.contains("valueTwo")) arg.value_two = parse_u64(j.at("valueTwo"), where + ".valueTwo");
  if (!j.contains("op") || !j.at("op").is_string()) invalid(where + ".op is missing");
  std::string op = j.at("op").get<std::string>();
  bool found = false;
  for (const auto& o : kOps) {
    if (op == o.name) {
      arg.op = o.op;
      found = true;
    }
  }
  if (!found) invalid(where + ".op: unknown operator \"" + op + "\"");
  return arg;
}

}  // namespace

SeccompProfile parse_seccomp_profile(const std::string& json_text, const SeccompContext& ctx) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    invalid(std::string("not JSON: ") + e.what());
  }
  if (!j.is_object()) invalid("the top level must be an object");
  SeccompProfile p;
  if (!j.contains("defaultAction")) invalid("defaultAction is missing");
  p.default_action = parse_action(j.at("defaultAction"), "defaultAction");
  if (j.contains("defaultErrnoRet") && !j.at("defaultErrnoRet").is_null()) {
    p.default_errno_ret = parse_u32(j.at("defaultErrnoRet"), "defaultErrnoRet");
  }
  if (j.contains("architectures") && !j.at("architectures").is_null()) {
    const auto& arches = j.at("architectures");
    if (!arches.is_array()) invalid("architectures must be an array");
    for (const auto& a : arches) {
      if (!a.is_string()) invalid("architectures must hold strings");
      p.architectures.push_back(a.get<std::string>());
    }
  }
  if (p.architectures.empty() && j.contains("archMap") && j.at("archMap").is_array()) {
    for (const auto& entry : j.at("archMap")) {
      if (!entry.is_object() || !entry.contains("architecture")) invalid("archMap entries need an architecture");
      if (entry.at("architecture") != ctx.native_arch) continue;
      p.architectures.push_back(ctx.native_arch);
      if (entry.contains("subArchitectures") && entry.at("subArchitectures").is_array()) {
        for (const auto& sub : entry.at("subArchitectures")) {
          if (sub.is_string()) p.architectures.push_back(sub.get<std::string>());
        }
      }
    }
  }
  if (j.contains("flags") && !j.at("flags").is_null() && !j.at("flags").is_array()) invalid("flags must be an array");
  if (j.contains("listenerPath") && j.at("listenerPath").is_string() && !j.at("listenerPath").get<std::string>().empty()) {
    invalid("listenerPath (a seccomp agent) is not supported");
  }
  if (j.contains("syscalls") && !j.at("syscalls").is_null()) {
    const auto& syscalls = j.at("syscalls");
    if (!syscalls.is_array()) invalid("syscalls must be an array");
    for (size_t i = 0; i < syscalls.size(); ++i) {
      std::string where = "syscalls[" + std::to_string(i) + "]";
      const auto& entry = syscalls[i];
      if (!entry.is_object()) invalid(where + " must be an object");
      if (!entry.contains("action")) invalid(where + ".action is missing");
      SeccompRule rule;
      rule.action = parse_action(entry.at("action"), where + ".action");
      if (entry.contains("names") && !entry.at("names").is_null()) {
        if (!entry.at("names").is_array()) invalid(where + ".names must be an array");
        for (const auto& n : entry.at("names")) {
          if (!n.is_string() || n.get<std::string>().empty()) invalid(where + ".names must hold names");
          rule.names.push_back(n.get<std::string>());
        }
      }
      if (entry.contains("name") && entry.at("name").is_string()) rule.names.push_back(entry.at("name").get<std::string>());
      if (rule.names.empty()) invalid(where + " names no syscall");
      if (entry.contains("errnoRet") && !entry.at("errnoRet").is_null()) {
        rule.errno_ret = parse_u32(entry.at("errnoRet"), where + ".errnoRet");
      }
      if (entry.contains("args") && !entry.at("args").is_null()) {
        if (!entry.at("args").is_array()) invalid(where + ".args must be an array");
        for (size_t k = 0; k < entry.at("args").size(); ++k) {
          rule.args.push_back(parse_arg(entry.at("args")[k], where + ".args[" + std::to_string(k) + "]"));
        }
      }
      if (!rule_applies(entry, ctx, where)) continue;
      p.syscalls.push_back(std::move(rule));
    }
  }
  return p;
}

std::string canonical_seccomp_json(const SeccompProfile& p) {
  json j;
  j["defaultAction"] = action_name(p.default_action);
  if (p.default_errno_ret) j["defaultErrnoRet"] = *p.default_errno_ret;
  j["architectures"] = p.architectures;
  json syscalls = json::array();
  for (const auto& r : p.syscalls) {
    json rule;
    rule["names"] = r.names;
    rule["action"] = action_name(r.action);
    if (r.errno_ret) rule["errnoRet"] = *r.errno_ret;
    json args = json::array();
    for (const auto& a : r.args) {
      args.push_back({{"index", a.index}, {"value", a.value}, {"valueTwo", a.value_two}, {"op", op_name(a.op)}});
    }
    rule["args"] = args;
    syscalls.push_back(rule);
  }
  j["syscalls"] = syscalls;
  return j.dump();
}

std::string seccomp_profile_digest(const SeccompProfile& profile) {
  std::string text = canonical_seccomp_json(profile);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    throw Error(ErrorKind::kInternal, "sha256 of a seccomp profile failed");
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

SeccompChoice parse_seccomp_profile_path(const std::string& path) {
  SeccompChoice c;
  if (path.empty() || path == "unconfined") return c;
  if (path == "runtime/default" || path == "docker/default") {
    c.kind = SeccompChoice::Kind::kRuntimeDefault;
    return c;
  }
  if (path.rfind("localhost/", 0) == 0) {
    c.kind = SeccompChoice::Kind::kLocalhost;
    c.localhost_path = path.substr(10);
    if (c.localhost_path.empty() || c.localhost_path[0] != '/') {
      throw Error(ErrorKind::kInvalidArgument, "seccomp profile \"" + path + "\": localhost path must be absolute");
    }
    return c;
  }
  throw Error(ErrorKind::kInvalidArgument, "unknown seccomp profile \"" + path + "\"");
}

std::optional<SeccompProfile> resolve_seccomp_choice(const SeccompChoice& choice, const SeccompContext& ctx) {
  switch (choice.kind) {
    case SeccompChoice::Kind::kUnconfined:
      return std::nullopt;
    case SeccompChoice::Kind::kRuntimeDefault:
      return runtime_default_seccomp_profile(ctx);
    case SeccompChoice::Kind::kLocalhost: {
      if (choice.localhost_path.empty() || choice.localhost_path[0] != '/') {
        throw Error(ErrorKind::kInvalidArgument,
                    "localhost seccomp profile path \"" + choice.localhost_path + "\" must be absolute");
      }
      auto text = read_file_if_exists(choice.localhost_path);
      if (!text) throw Error(ErrorKind::kNotFound, "seccomp profile " + choice.localhost_path + " does not exist");
      try {
        return parse_seccomp_profile(*text, ctx);
      } catch (const Error& e) {
        throw Error(e.kind(), choice.localhost_path + ": " + e.what());
      }
    }
  }
  return std::nullopt;
}

}  // namespace crisp::security
