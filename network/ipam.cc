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
  if (text.find(':') != std::string::npos) return std::nullopt;
  try {
    return parse_ipv4(text);
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::optional<Ipv6Address> try_parse_ipv6(const std::string& text) {
  if (text.find(':') == std::string::npos) return std::nullopt;
  try {
    return parse_ipv6(text);
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

HostLocalIpam::HostLocalIpam(std::string dir) : dir_(std::move(dir)) { make_dirs(dir_, 0700); }

std::string HostLocalIpam::format(bool ipv6, Ipv6Address address) const {
  return ipv6 ? format_ipv6(address) : format_ipv4(static_cast<uint32_t>(address));
}

std::string HostLocalIpam::path_of(bool ipv6, Ipv6Address address) const {
  return dir_ + "/" + format(ipv6, address);
}

uint32_t HostLocalIpam::allocate(const Ipv4Prefix& prefix, const std::string& sandbox_id) {
  if (prefix.length > 30) {
    throw Error(ErrorKind::kInvalidArgument,
                "pod CIDR " + prefix.to_string() + " is too small for pod addresses");
  }
  Range range;
  range.first = prefix.first_host() + 1;  // first_host() is the gateway
  range.last = prefix.broadcast() - 1;
  range.cidr = prefix.to_string();
  range.hint_file = dir_ + "/last_reserved_ip." + format_ipv4(prefix.network) + "_" +
                    std::to_string(prefix.length);
  return static_cast<uint32_t>(allocate_in(range, sandbox_id));
}

Ipv6Address HostLocalIpam::allocate(const Ipv6Prefix& prefix, const std::string& sandbox_id) {
  if (prefix.length > 126) {
    throw Error(ErrorKind::kInvalidArgument,
                "pod CIDR " + prefix.to_string() + " is too small for pod addresses");
  }
  Range range;
  range.ipv6 = true;
  range.first = prefix.first_host() + 1;  // network: subnet-router anycast; first_host(): gateway
  range.last = prefix.last();
  range.cidr = prefix.to_string();
  range.hint_file = dir_ + "/last_reserved_ip." + format_ipv6(prefix.network) + "_" +
                    std::to_string(prefix.length);
  return allocate_in(range, sandbox_id);
}

Ipv6Address HostLocalIpam::allocate_in(const Range& range, const std::string& sandbox_id) {
  const Ipv6Address first = range.first, last = range.last;
  // For an IPv6 /64 this is 2^64 - 2; the loop only goes on past taken addresses (EEXIST), so it
  // ends after at most (allocations + 1) iterations unless the range is really full.
  const Ipv6Address count = last - first + 1;

  std::lock_guard lock(hint_mutex_);
  auto cached = hints_.find(range.hint_file);
  if (cached == hints_.end()) {
    Ipv6Address previous_address = 0;
    if (auto hint = read_file_if_exists(range.hint_file)) {
      std::string text = trim(*hint);
      if (range.ipv6) {
        if (auto previous = try_parse_ipv6(text)) previous_address = *previous;
      } else if (auto previous = try_parse_ipv4(text)) {
        previous_address = *previous;
      }
    }
    cached = hints_.emplace(range.hint_file, previous_address).first;
  }
  Ipv6Address start = first;
  if (cached->second >= first && cached->second < last) start = cached->second + 1;
  for (Ipv6Address i = 0; i < count; ++i) {
    Ipv6Address candidate = first + (start - first + i) % count;
    std::string path = path_of(range.ipv6, candidate);
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
    UniqueFd hint(::open(range.hint_file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    if (hint) {
      std::string text = format(range.ipv6, candidate);
      text.resize(range.ipv6 ? 40 : 16, ' ');
      text += "\n";
      [[maybe_unused]] auto n = ::pwrite(hint.get(), text.data(), text.size(), 0);
    }
    return candidate;
  }
  throw Error(ErrorKind::kResourceExhausted, "no free IP address left in pod CIDR " + range.cidr);
}

std::string HostLocalIpam::owner_of_path(const std::string& path) const {
  auto content = read_file_if_exists(path);
  return content ? trim(*content) : std::string();
}

std::string HostLocalIpam::owner(uint32_t address) const { return owner_of_path(path_of(false, address)); }

std::string HostLocalIpam::ipv6_owner(Ipv6Address address) const {
  return owner_of_path(path_of(true, address));
}

bool HostLocalIpam::release_path(const std::string& path, const std::string& sandbox_id) {
  auto content = read_file_if_exists(path);
  if (!content || trim(*content) != sandbox_id) return false;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("IPAM: remove " + path);
  return true;
}

bool HostLocalIpam::release(uint32_t address, const std::string& sandbox_id) {
  return release_path(path_of(false, address), sandbox_id);
}

bool HostLocalIpam::release_ipv6(Ipv6Address address, const std::string& sandbox_id) {
  return release_path(path_of(true, address), sandbox_id);
}

std::vector<std::string> HostLocalIpam::file_names() const {
  std::vector<std::string> names;
  DIR* dir = ::opendir(dir_.c_str());
  if (!dir) {
    if (errno == ENOENT) return names;
    throw_errno("IPAM: open " + dir_);
  }
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') names.emplace_back(entry->d_name);
  }
  ::closedir(dir);
  return names;
}

std::map<uint32_t, std::string> HostLocalIpam::allocations() const {
  std::map<uint32_t, std::string> result;
  for (const auto& name : file_names()) {
    if (auto address = try_parse_ipv4(name)) result[*address] = owner(*address);
  }
  return result;
}

std::map<Ipv6Address, std::string> HostLocalIpam::ipv6_allocations() const {
  std::map<Ipv6Address, std::string> result;
  for (const auto& name : file_names()) {
    // Only canonical names: what allocate() writes.
    if (auto address = try_parse_ipv6(name); address && format_ipv6(*address) == name) {
      result[*address] = ipv6_owner(*address);
    }
  }
  return result;
}

int HostLocalIpam::release_owner(const std::string& sandbox_id) {
  int released = 0;
  for (const auto& [address, owner_id] : allocations()) {
    if (owner_id == sandbox_id && release(address, sandbox_id)) ++released;
  }
  for (const auto& [address, owner_id] : ipv6_allocations()) {
    if (owner_id == sandbox_id && release_ipv6(address, sandbox_id)) ++released;
  }
  return released;
}

}  // namespace crisp::network
