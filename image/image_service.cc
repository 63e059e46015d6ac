#include "image/image_service.h"

#include <dirent.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>

#include "image/content_store.h"
#include "image/image_record.h"
#include "image/lease.h"
#include "image/reference.h"
#include "image/registry_client.h"
#include "image/snapshot/snapshotter.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::image {

namespace {

bool is_hex(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

void erase_value(std::vector<std::string>& v, const std::string& value) {
  v.erase(std::remove(v.begin(), v.end(), value), v.end());
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

ImageService::ImageService(ImageServiceOptions options) : options_(std::move(options)) {
  if (options_.max_concurrent_downloads < 1) options_.max_concurrent_downloads = 1;
  // 0 disables the no-progress timeout (like containerd's image_pull_progress_timeout = 0).
  if (options_.pull_progress_timeout_seconds <= 0) options_.pull_progress_timeout_seconds = 365 * 24 * 3600;
  make_dirs(options_.root, 0711);
  make_dirs(options_.root + "/images", 0700);
  content_ = std::make_unique<ContentStore>(options_.root);
  snapshots_ = std::make_unique<snapshot::Snapshotter>(options_.root);
  size_t leftovers = snapshots_->recover();
  if (leftovers > 0) spdlog::info("image store: removed {} interrupted snapshot operations", leftovers);
  RegistryClientOptions client_options;
  client_options.config_dir = options_.registry_config_dir;
  client_options.progress_timeout = std::chrono::seconds(options_.pull_progress_timeout_seconds);
  client_options.max_manifest_bytes = options_.max_manifest_bytes;
  registry_ = std::make_unique<RegistryClient>(client_options);
  load_records();
  collect_garbage();
}

ImageService::~ImageService() = default;

void ImageService::set_registry_config_dir(std::string dir) { registry_->set_config_dir(std::move(dir)); }

void ImageService::load_records() {
  std::string dir = options_.root + "/images";
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw_errno("open " + dir);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
  ::closedir(d);
  std::lock_guard lock(records_mutex_);
  for (const auto& name : names) {
    if (name == "." || name == "..") continue;
    std::string path = dir + "/" + name;
    if (name.size() != 69 || name.substr(64) != ".json") {
      ::unlink(path.c_str());  // an interrupted atomic write
      continue;
    }
    try {
      ImageRecord r = record_from_json(read_file(path));
      auto config = content_->read(r.id);
      if (!config) throw Error(ErrorKind::kNotFound, "its config blob is missing");
      if (!r.chain_id.empty() && !snapshots_->has(r.chain_id)) throw Error(ErrorKind::kNotFound, "its layers are missing");
      r.config_json = *config;
      r.config = parse_image_config(r.config_json).config;
      image_user(r.config.user, r.uid, r.username);
      records_[r.id] = std::move(r);
    } catch (const std::exception& e) {
      spdlog::warn("image store: dropping image record {}: {}", path, e.what());
      ::unlink(path.c_str());
    }
  }
  spdlog::info("image store: {} images", records_.size());
}

void ImageService::save_record_locked(const ImageRecord& record) {
  atomic_write_file(options_.root + "/images/" + record.id.substr(7) + ".json", record_to_json(record), 0600);
  records_[record.id] = record;
}

void ImageService::delete_record_locked(const std::string& id) {
  std::string path = options_.root + "/images/" + id.substr(7) + ".json";
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("remove " + path);
  fsync_dir(options_.root + "/images");
  records_.erase(id);
}

std::optional<ImageRecord> ImageService::find_locked(const std::string& ref) const {
  if (ref.empty()) return std::nullopt;
  if (is_sha256_digest(ref)) {
    auto it = records_.find(ref);
    if (it != records_.end()) return it->second;
  }
  if (is_sha256_hex(ref)) {
    auto it = records_.find("sha256:" + ref);
    if (it != records_.end()) return it->second;
  }
  try {
    Reference parsed = parse_reference(ref);
    if (!parsed.digest.empty()) {
      std::string wanted = parsed.name() + "@" + parsed.digest;
      for (const auto& [id, r] : records_) {
        if (std::find(r.repo_digests.begin(), r.repo_digests.end(), wanted) != r.repo_digests.end()) return r;
      }
    } else {
      std::string wanted = parsed.name() + ":" + parsed.tag;
      for (const auto& [id, r] : records_) {
        if (std::find(r.repo_tags.begin(), r.repo_tags.end(), wanted) != r.repo_tags.end()) return r;
      }
    }
  } catch (const Error&) {
    // Not a reference: maybe an id prefix.
  }
  std::string prefix = ref.rfind("sha256:", 0) == 0 ? ref.substr(7) : ref;
  if (prefix.size() >= 3 && prefix.size() <= 64 && is_hex(prefix)) {
    const ImageRecord* match = nullptr;
    for (const auto& [id, r] : records_) {
      if (id.compare(7, prefix.size(), prefix) == 0) {
        if (match) return std::nullopt;  // ambiguous
        match = &r;
      }
    }
    if (match) return *match;
  }
  return std::nullopt;
}

std::optional<ImageRecord> ImageService::find(const std::string& ref) const {
  std::lock_guard lock(records_mutex_);
  return find_locked(ref);
}

std::vector<ImageRecord> ImageService::list(const ImageFilter& filter) const {
  std::lock_guard lock(records_mutex_);
  std::vector<ImageRecord> out;
  if (!filter.ref.empty()) {
    if (auto r = find_locked(filter.ref)) out.push_back(std::move(*r));
    return out;
  }
  for (const auto& [id, r] : records_) out.push_back(r);
  return out;
}

void ImageService::remove(const std::string& ref) {
  {
    std::lock_guard lock(records_mutex_);
    auto record = find_locked(ref);
    if (!record) return;
    if (record->pinned) {
      throw Error(ErrorKind::kFailedPrecondition, "image " + ref + " is pinned (imported with crisp images import); "
                                                  "unpin it with `crisp images unpin " + ref + "` first");
    }
    // By tag: untag, and remove the image only when that was its last tag.
    std::optional<std::string> tag;
    if (!is_sha256_digest(ref) && !is_hex(ref.rfind("sha256:", 0) == 0 ? ref.substr(7) : ref)) {
      try {
        Reference parsed = parse_reference(ref);
        if (parsed.digest.empty()) tag = parsed.name() + ":" + parsed.tag;
      } catch (const Error&) {
      }
    }
    if (tag && record->repo_tags.size() > 1) {
      erase_value(record->repo_tags, *tag);
      save_record_locked(*record);
      spdlog::info("untagged {} from image {}", *tag, record->id);
      return;
    }
    delete_record_locked(record->id);
    spdlog::info("removed image {} ({})", record->id, ref);
  }
  collect_garbage();
}

void ImageService::set_pinned(const std::string& ref, bool pinned) {
  std::lock_guard lock(records_mutex_);
  auto record = find_locked(ref);
  if (!record) throw Error(ErrorKind::kNotFound, "image \"" + ref + "\" not found");
  if (record->pinned == pinned) return;
  record->pinned = pinned;
  save_record_locked(*record);
}

RootfsMount ImageService::prepare_rootfs(const std::string& container_id, const std::string& image_id) {
  auto record = find(image_id);
  if (!record) throw Error(ErrorKind::kNotFound, "image \"" + image_id + "\" not found");
  std::lock_guard lock(gc_mutex_);  // no GC between the lookup and the container's hold on the chain
  snapshot::Mount m = snapshots_->prepare(container_id, record->chain_id);
  return RootfsMount{m.type, m.source, m.options};
}

void ImageService::remove_rootfs(const std::string& container_id) {
  snapshots_->remove(container_id);
  // Chains of images removed while this container ran are no longer needed.
  bool orphaned = false;
  {
    std::lock_guard lock(records_mutex_);
    std::set<std::string> needed;
    for (const auto& [id, r] : records_) {
      for (const auto& c : snapshot::chain_ids(r.diff_ids)) needed.insert(c);
    }
    for (const auto& c : snapshots_->chains()) orphaned = orphaned || !needed.count(c.chain_id);
  }
  if (orphaned) collect_garbage();
}

FsUsage ImageService::image_fs_usage() const {
  snapshot::SnapshotsUsage s = snapshots_->usage();
  snapshot::Usage content = snapshot::disk_usage(content_->dir());
  FsUsage out;
  out.timestamp_ns = now_ns();
  out.mountpoint = options_.root;
  out.used_bytes = s.chains.bytes + content.bytes;
  out.inodes_used = s.chains.inodes + content.inodes;
  return out;
}

FsUsage ImageService::container_fs_usage() const {
  snapshot::SnapshotsUsage s = snapshots_->usage();
  FsUsage out;
  out.timestamp_ns = now_ns();
  out.mountpoint = s.snapshots_dir;
  out.used_bytes = s.containers.bytes;
  out.inodes_used = s.containers.inodes;
  return out;
}

void ImageService::collect_garbage_after(const char* after) noexcept {
  try {
    collect_garbage();
  } catch (const std::exception& e) {
    spdlog::warn("image gc after {}: {}", after, e.what());
  }
}

GcResult ImageService::collect_garbage() {
  std::lock_guard gc_lock(gc_mutex_);
  std::set<std::string> needed_blobs;
  std::set<std::string> needed_chains;
  {
    std::lock_guard lock(records_mutex_);
    for (const auto& [id, r] : records_) {
      needed_blobs.insert(r.id);
      needed_blobs.insert(r.blobs.begin(), r.blobs.end());
      for (const auto& c : snapshot::chain_ids(r.diff_ids)) needed_chains.insert(c);
    }
  }
  for (const auto& item : leases_) {
    needed_blobs.insert(item);
    needed_chains.insert(item);
  }
  std::map<std::string, snapshot::ChainInfo> chains;
  for (auto& c : snapshots_->chains()) chains[c.chain_id] = c;
  for (const auto& container : snapshots_->list()) {
    for (std::string c = container.chain_id; !c.empty();) {
      needed_chains.insert(c);
      auto it = chains.find(c);
      c = it == chains.end() ? "" : it->second.parent;
    }
  }
  GcResult result;
  size_t& blobs_removed = result.blobs_removed;
  for (const auto& digest : content_->list()) {
    if (needed_blobs.count(digest)) continue;
    try {
      uint64_t bytes = content_->size(digest).value_or(0);
      content_->remove(digest);
      if (!content_->has(digest)) result.bytes_removed += bytes;
      ++blobs_removed;
    } catch (const std::exception& e) {
      spdlog::warn("image gc: {}", e.what());
    }
  }
  // Children before parents.
  std::function<size_t(const std::string&)> depth = [&](const std::string& id) -> size_t {
    size_t d = 0;
    for (std::string c = id; !c.empty() && d < 10000; ++d) {
      auto it = chains.find(c);
      c = it == chains.end() ? "" : it->second.parent;
    }
    return d;
  };
  std::vector<std::pair<size_t, std::string>> doomed;
  for (const auto& [id, info] : chains) {
    if (!needed_chains.count(id)) doomed.emplace_back(depth(id), id);
  }
  std::sort(doomed.rbegin(), doomed.rend());
  size_t& chains_removed = result.snapshots_removed;
  for (const auto& [d, id] : doomed) {
    try {
      snapshots_->remove_chain(id);
      result.bytes_removed += chains[id].usage.bytes;
      ++chains_removed;
    } catch (const Error& e) {
      spdlog::debug("image gc: keeping chain {}: {}", id, e.what());
    }
  }
  if (blobs_removed || chains_removed) {
    spdlog::info("image gc: removed {} blobs and {} layer snapshots", blobs_removed, chains_removed);
  }
  return result;
}

}  // namespace crisp::image
