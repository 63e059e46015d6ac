#include "network/ipam.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"

namespace crisp::network {

namespace {

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::optional<uint32_t> try_parse_ipv4(const std::string& text) {
  try {
    return parse_ipv4(text);
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

HostLocalIpam::HostLocalIpam(std::string dir) : dir_(std::move(dir)) { make_dirs(dir_, 0700); }

std::string HostLocalIpam::path_of(uint32_t address) const {
  return dir_ + "/" + format_ipv4(address);
}

std::string HostLocalIpam::hint_path(const Ipv4Prefix& prefix) const {
  return dir_ + "/last_reserved_ip." + format_ipv4(prefix.network) + "_" +
         std::to_string(prefix.length);
}

uint32_t HostLocalIpam::allocate(const Ipv4Prefix& prefix, const std::string& sandbox_id) {
  if (prefix.length > 30) {
    throw Error(ErrorKind::kInvalidArgument,
                "pod CIDR " + prefix.to_string() + " is too small for pod addresses");
  }
  const uint32_t first = prefix.first_host() + 1;  // first_host() is the gateway
  const uint32_t last = prefix.broadcast() - 1;
  const uint64_t count = uint64_t{last} - first + 1;

  std::lock_guard lock(hint_mutex_);
  const std::string hint_file = hint_path(prefix);
  auto cached = hints_.find(hint_file);
  if (cached == hints_.end()) {
    uint32_t previous_address = 0;
    if (auto hint = read_file_if_exists(hint_file)) {
      if (auto previous = try_parse_ipv4(trim(*hint))) previous_address = *previous;
    }
    cached = hints_.emplace(hint_file, previous_address).first;
  }
  uint32_t start = first;
  if (cached->second >= first && cached->second < last) start = cached->second + 1;
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t candidate = first + static_cast<uint32_t>((uint64_t{start} - first + i) % count);
    std::string path = path_of(candidate);
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) {
      if (errno == EEXIST) continue;
      throw_errno("IPAM: create " + path);
    }
    std::string content = sandbox_id + "\n";
    if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
      int err = errno;
      ::unlink(path.c_str());
      throw_errno(ErrorKind::kInternal, err, "IPAM: write " + path);
    }
    // The hint is only an optimisation (kept in memory, on disk for restarts): a plain
    // fixed-width overwrite is enough.
    cached->second = candidate;
    UniqueFd hint(::open(hint_file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    if (hint) {
      std::string text = format_ipv4(candidate);
      text.resize(16, ' ');
      text += "\n";
      [[maybe_unused]] auto n = ::pwrite(hint.get(), text.data(), text.size(), 0);
    }
    return candidate;
  }
  throw Error(ErrorKind::kResourceExhausted,
              "no free IP address left in pod CIDR " + prefix.to_string());
}

std::string HostLocalIpam::owner(uint32_t address) const {
  auto content = read_file_if_exists(path_of(address));
  return content ? trim(*content) : std::string();
}

bool HostLocalIpam::release(uint32_t address, const std::string& sandbox_id) {
  std::string path = path_of(address);
  auto content = read_file_if_exists(path);
  if (!content || trim(*content) != sandbox_id) return false;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("IPAM: remove " + path);
  return true;
}

std::map<uint32_t, std::string> HostLocalIpam::allocations() const {
  std::map<uint32_t, std::string> result;
  DIR* dir = ::opendir(dir_.c_str());
  if (!dir) {
    if (errno == ENOENT) return result;
    throw_errno("IPAM: open " + dir_);
  }
  while (dirent* entry = ::readdir(dir)) {
    auto address = try_parse_ipv4(entry->d_name);
    if (!address) continue;
    result[*address] = owner(*address);
  }
  ::closedir(dir);
  return result;
}

int HostLocalIpam::release_owner(const std::string& sandbox_id) {
  int released = 0;
  for (const auto& [address, owner_id] : allocations()) {
    if (owner_id == sandbox_id && release(address, sandbox_id)) ++released;
  }
  return released;
}

}  // namespace crisp::network
