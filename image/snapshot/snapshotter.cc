#include "image/snapshot/snapshotter.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/base/cleanup.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"

namespace crisp::snapshot {

namespace {

constexpr const char kMetaFile[] = "meta.json";

// The overlay "volatile" option exists since Linux 5.10.
bool kernel_supports_volatile() {
  struct utsname u;
  if (::uname(&u) != 0) return false;
  int major = 0, minor = 0;
  if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 5 || (major == 5 && minor >= 10);
}

void check_chain_id(const std::string& id, const char* what) {
  if (!is_valid_chain_id(id))
    throw Error(ErrorKind::kInvalidArgument,
                std::string("invalid ") + what + " \"" + id + "\" (want sha256:<64 hex>)");
}

void check_key(const std::string& key) {
  bool ok = !key.empty() && key.size() <= 200 && key[0] != '.';
  for (char c : key)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      ok = false;
  if (!ok)
    throw Error(ErrorKind::kInvalidArgument, "invalid container snapshot key \"" + key + "\"");
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(path.c_str());
  if (!dir) {
    if (errno == ENOENT) return names;
    throw_errno("opendir " + path);
  }
  while (struct dirent* ent = ::readdir(dir)) {
    if (std::strcmp(ent->d_name, ".") == 0 || std::strcmp(ent->d_name, "..") == 0) continue;
    names.emplace_back(ent->d_name);
  }
  ::closedir(dir);
  return names;
}

void make_dir(const std::string& path, unsigned mode) {
  if (::mkdir(path.c_str(), mode) != 0) throw_errno("mkdir " + path);
}

// rename that never replaces; false if `to` exists already.
bool rename_no_replace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return true;
  if (errno == EEXIST || errno == ENOTEMPTY) return false;
  throw_errno("rename " + from + " to " + to);
}

nlohmann::json chain_to_json(const ChainInfo& info) {
  return {{"chain_id", info.chain_id},      {"parent", info.parent},
          {"diff_id", info.diff_id},        {"size", info.size},
          {"disk_bytes", info.usage.bytes}, {"inodes", info.usage.inodes}};
}

ChainInfo chain_from_json(const std::string& text) {
  auto j = nlohmann::json::parse(text);
  ChainInfo info;
  info.chain_id = j.at("chain_id").get<std::string>();
  info.parent = j.at("parent").get<std::string>();
  info.diff_id = j.at("diff_id").get<std::string>();
  info.size = j.at("size").get<uint64_t>();
  info.usage.bytes = j.at("disk_bytes").get<uint64_t>();
  info.usage.inodes = j.at("inodes").get<uint64_t>();
  return info;
}

// Container metadata is written without fsync: writable layers do not survive a host crash
// (they are mounted "volatile"), and a daemon crash does not lose the page cache.
void write_unsynced(const std::string& path, const std::string& data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) throw_errno("create " + path);
  if (::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    throw_errno("write " + path);
}

// True if an overlay in this mount namespace uses `upper` as its upperdir (mountinfo's super
// options show it as given at mount time).
bool is_upper_mounted(const std::string& upper) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  const std::string needle = "upperdir=" + upper;
  std::string line;
  while (std::getline(mountinfo, line)) {
    auto pos = line.find(needle);
    if (pos == std::string::npos) continue;
    char after = pos + needle.size() < line.size() ? line[pos + needle.size()] : ',';
    if (after == ',' || after == ' ') return true;
  }
  return false;
}

}  // namespace

Snapshotter::Snapshotter(const std::string& root)
    : dir_(root + "/snapshots"), volatile_supported_(kernel_supports_volatile()) {
  make_dirs(dir_ + "/chains", 0700);
  make_dirs(dir_ + "/containers", 0700);
  make_dirs(dir_ + "/tmp", 0700);
  make_dirs(dir_ + "/empty", 0755);
  load();
}

std::string Snapshotter::chain_dir(const std::string& chain_id) const {
  return dir_ + "/chains/" + chain_id.substr(7);
}

std::string Snapshotter::container_dir(const std::string& key) const {
  return dir_ + "/containers/" + key;
}

std::string Snapshotter::new_temp_dir() {
  std::string path = dir_ + "/tmp/" + random_hex(8);
  make_dir(path, 0700);
  return path;
}

void Snapshotter::load() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& name : list_dir(dir_ + "/chains")) {
    std::string path = dir_ + "/chains/" + name;
    try {
      ChainInfo info = chain_from_json(read_file(path + "/" + kMetaFile));
      if (info.chain_id != "sha256:" + name) throw Error(ErrorKind::kInternal, "chainID mismatch");
      chains_[info.chain_id] = std::move(info);
    } catch (const std::exception&) {
      // Not a committed chain (commits rename complete directories): discard it.
      rename_no_replace(path, dir_ + "/tmp/bad-chain-" + random_hex(8));
    }
  }
  for (const auto& name : list_dir(dir_ + "/containers")) {
    std::string path = dir_ + "/containers/" + name;
    try {
      auto j = nlohmann::json::parse(read_file(path + "/" + kMetaFile));
      ContainerSnapshotInfo info;
      info.key = j.at("key").get<std::string>();
      info.chain_id = j.at("chain_id").get<std::string>();
      info.readonly = j.at("readonly").get<bool>();
      if (info.key != name) throw Error(ErrorKind::kInternal, "key mismatch");
      containers_[info.key] = std::move(info);
    } catch (const std::exception&) {
      rename_no_replace(path, dir_ + "/tmp/bad-container-" + random_hex(8));
    }
  }
}

size_t Snapshotter::recover() {
  size_t removed = 0;
  for (const auto& name : list_dir(dir_ + "/tmp")) {
    remove_tree(dir_ + "/tmp/" + name);
    ++removed;
  }
  return removed;
}

bool Snapshotter::has(const std::string& chain_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return chains_.count(chain_id) != 0;
}

std::optional<ChainInfo> Snapshotter::chain(const std::string& chain_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = chains_.find(chain_id);
  if (it == chains_.end()) return std::nullopt;
  return it->second;
}

std::vector<ChainInfo> Snapshotter::chains() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<ChainInfo> out;
  out.reserve(chains_.size());
  for (const auto& [id, info] : chains_) out.push_back(info);
  return out;
}

ChainInfo Snapshotter::apply(const std::string& chain_id, const std::string& parent_chain_id,
                             const layer::LayerReader& reader,
                             const layer::LayerApplyOptions& options) {
  check_chain_id(chain_id, "chainID");
  if (!parent_chain_id.empty()) check_chain_id(parent_chain_id, "parent chainID");
  {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      auto it = chains_.find(chain_id);
      if (it != chains_.end()) return it->second;
      if (!applying_.count(chain_id)) break;
      applied_.wait(lock);
    }
    applying_.insert(chain_id);
  }
  Cleanup done([&] {
    std::lock_guard<std::mutex> lock(mutex_);
    applying_.erase(chain_id);
    applied_.notify_all();
  });

  const std::string temp = new_temp_dir();
  Cleanup remove_temp([&] { remove_tree(temp); });
  make_dir(temp + "/fs", 0755);
  UniqueFd fs_fd(::open((temp + "/fs").c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fs_fd) throw_errno("open " + temp + "/fs");

  layer::LayerApplyResult result = layer::apply_layer_at(fs_fd.get(), reader, options);
  const std::string computed = snapshot::chain_id(parent_chain_id, result.diff_id);
  if (computed != chain_id)
    throw Error(ErrorKind::kInvalidArgument, "layer content does not match chain " + chain_id +
                                                 ": its diffID is " + result.diff_id +
                                                 " (chainID " + computed + ")");

  ChainInfo info;
  info.chain_id = chain_id;
  info.parent = parent_chain_id;
  info.diff_id = result.diff_id;
  info.size = result.uncompressed_size;
  info.usage = disk_usage(temp + "/fs");
  write_unsynced(temp + "/" + kMetaFile, chain_to_json(info).dump());
  // One syncfs instead of an fsync per file: the commit below must never expose a snapshot
  // whose data is not on disk.
  if (options.sync && ::syncfs(fs_fd.get()) != 0) throw_errno("syncfs " + temp);

  if (!rename_no_replace(temp, chain_dir(chain_id))) {
    // Another crispd process committed it first: use theirs.
    ChainInfo theirs = chain_from_json(read_file(chain_dir(chain_id) + "/" + kMetaFile));
    std::lock_guard<std::mutex> lock(mutex_);
    chains_[chain_id] = theirs;
    return theirs;
  }
  remove_temp.dismiss();
  fsync_dir(dir_ + "/chains");
  std::lock_guard<std::mutex> lock(mutex_);
  chains_[chain_id] = info;
  return info;
}

void Snapshotter::remove_chain(const std::string& chain_id) {
  std::string doomed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!chains_.count(chain_id))
      throw Error(ErrorKind::kNotFound, "snapshot chain " + chain_id + " not found");
    for (const auto& [key, info] : containers_)
      if (info.chain_id == chain_id)
        throw Error(ErrorKind::kFailedPrecondition,
                    "snapshot chain " + chain_id + " is used by container snapshot " + key);
    for (const auto& [id, info] : chains_)
      if (info.parent == chain_id)
        throw Error(ErrorKind::kFailedPrecondition,
                    "snapshot chain " + chain_id + " is the parent of chain " + id);
    doomed = dir_ + "/tmp/" + random_hex(8);
    if (::rename(chain_dir(chain_id).c_str(), doomed.c_str()) != 0)
      throw_errno("rename " + chain_dir(chain_id));
    chains_.erase(chain_id);
  }
  remove_tree(doomed);
}

std::vector<std::string> Snapshotter::lower_dirs(const std::string& chain_id) const {
  std::vector<std::string> dirs;
  std::string id = chain_id;
  while (!id.empty()) {
    auto it = chains_.find(id);
    if (it == chains_.end())
      throw Error(ErrorKind::kNotFound,
                  "snapshot chain " + id + (id == chain_id ? "" : " (parent of " + chain_id + ")") +
                      " not found");
    dirs.push_back(chain_dir(id) + "/fs");
    id = it->second.parent;
    if (dirs.size() > 500)
      throw Error(ErrorKind::kInternal, "snapshot chain " + chain_id + " is too deep");
  }
  if (dirs.empty()) dirs.push_back(dir_ + "/empty");
  return dirs;
}

Mount Snapshotter::describe(const ContainerSnapshotInfo& info) const {
  std::vector<std::string> lowers = lower_dirs(info.chain_id);
  if (info.readonly && lowers.size() == 1) return Mount{"bind", lowers[0], {"rbind", "ro"}};
  std::string lowerdir = "lowerdir=";
  for (size_t i = 0; i < lowers.size(); ++i) {
    if (i) lowerdir += ':';
    lowerdir += lowers[i];
  }
  Mount mount{"overlay", "overlay", {lowerdir}};
  if (info.readonly) {
    mount.options.push_back("ro");
    return mount;
  }
  mount.options.push_back("upperdir=" + container_dir(info.key) + "/upper");
  mount.options.push_back("workdir=" + container_dir(info.key) + "/work");
  if (volatile_supported_) mount.options.push_back("volatile");
  return mount;
}

Mount Snapshotter::prepare(const std::string& key, const std::string& chain_id, bool readonly) {
  check_key(key);
  if (!chain_id.empty()) check_chain_id(chain_id, "chainID");
  std::lock_guard<std::mutex> lock(mutex_);
  if (containers_.count(key))
    throw Error(ErrorKind::kAlreadyExists, "container snapshot " + key + " already exists");
  ContainerSnapshotInfo info{key, chain_id, readonly};
  Mount mount = describe(info);  // checks that the whole chain is committed

  const std::string temp = new_temp_dir();
  Cleanup remove_temp([&] { remove_tree(temp); });
  ::chmod(temp.c_str(), 0755);
  if (!readonly) {
    make_dir(temp + "/upper", 0755);
    make_dir(temp + "/work", 0700);
  }
  nlohmann::json meta = {{"key", key}, {"chain_id", chain_id}, {"readonly", readonly}};
  write_unsynced(temp + "/" + kMetaFile, meta.dump());
  if (!rename_no_replace(temp, container_dir(key)))
    throw Error(ErrorKind::kAlreadyExists, "container snapshot directory " + key + " exists");
  remove_temp.dismiss();
  containers_[key] = info;
  return mount;
}

Mount Snapshotter::mounts(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = containers_.find(key);
  if (it == containers_.end())
    throw Error(ErrorKind::kNotFound, "container snapshot " + key + " not found");
  return describe(it->second);
}

void Snapshotter::mount(const std::string& key, const std::string& target) const {
  Mount description = mounts(key);
  // A volatile overlay leaves work/incompat/volatile behind and refuses to mount again while it
  // exists; the writable layer is the container's own, so clear the flag and remount.
  std::string incompat = container_dir(key) + "/work/work/incompat";
  struct stat st;
  if (::lstat(incompat.c_str(), &st) == 0) remove_tree(incompat);
  mount_snapshot(description, target);
}

void Snapshotter::remove(const std::string& key) {
  check_key(key);
  if (is_upper_mounted(container_dir(key) + "/upper"))
    throw Error(ErrorKind::kFailedPrecondition,
                "container snapshot " + key + " is still mounted; unmount it first");
  std::string doomed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    containers_.erase(key);
    doomed = dir_ + "/tmp/" + random_hex(8);
    if (::rename(container_dir(key).c_str(), doomed.c_str()) != 0) {
      if (errno == ENOENT) return;
      throw_errno("rename " + container_dir(key));
    }
  }
  remove_tree(doomed);
}

Usage Snapshotter::usage(const std::string& key) const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!containers_.count(key))
      throw Error(ErrorKind::kNotFound, "container snapshot " + key + " not found");
  }
  return disk_usage(container_dir(key) + "/upper");
}

std::vector<ContainerSnapshotInfo> Snapshotter::list() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<ContainerSnapshotInfo> out;
  out.reserve(containers_.size());
  for (const auto& [key, info] : containers_) out.push_back(info);
  return out;
}

SnapshotsUsage Snapshotter::usage() const {
  SnapshotsUsage total;
  total.snapshots_dir = dir_;
  std::vector<std::string> keys;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [id, info] : chains_) {
      total.chains.bytes += info.usage.bytes;
      total.chains.inodes += info.usage.inodes;
    }
    for (const auto& [key, info] : containers_) keys.push_back(key);
  }
  for (const auto& key : keys) {
    Usage u = disk_usage(container_dir(key));
    total.containers.bytes += u.bytes;
    total.containers.inodes += u.inodes;
  }
  return total;
}

}  // namespace crisp::snapshot
