// ImageService::pull: resolve -> manifest (platform from an index) -> config -> layers, each
// downloaded into the content store and unpacked into its chain snapshot while it streams in,
// several layers at a time; then the image record.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "image/content_store.h"
#include "image/image_record.h"
#include "image/image_service.h"
#include "image/lease.h"
#include "image/reference.h"
#include "image/registry_client.h"
#include "image/snapshot/snapshotter.h"
#include "runtime/base/error.h"

namespace crisp::image {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::string short_digest(const std::string& digest) { return digest.substr(0, std::min<size_t>(digest.size(), 19)); }

double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

void add_unique(std::vector<std::string>& v, const std::string& value) {
  if (std::find(v.begin(), v.end(), value) == v.end()) v.push_back(value);
}

}  // namespace

struct ImageService::PullPlan {
  Reference ref;
  std::vector<Descriptor> layers;
  std::vector<std::string> chain_ids;  // chain_ids[i] = chainID of layers[0..i]
  std::atomic<uint64_t>* bytes_downloaded = nullptr;  // PullRequest::bytes_downloaded
};

std::string ImageService::pull(const PullRequest& request) {
  Lease lease(*this);
  try {
    return pull_image(request, lease);
  } catch (...) {
    // Nothing of a failed pull stays: what it stored is no longer leased and no image needs it.
    lease.release();
    collect_garbage_after("a failed pull");
    throw;
  }
}

std::string ImageService::pull_image(const PullRequest& request, Lease& lease) {
  const auto start = Clock::now();
  Reference ref = parse_reference(request.ref);
  RegistrySession session(*registry_, ref, request.auth, request.cancelled);

  FetchedManifest top = session.fetch_manifest(ref.registry_reference());
  lease.add(top.digest);
  std::vector<std::string> blobs{top.digest};
  std::string manifest_bytes = top.bytes;
  std::string manifest_digest = top.digest;
  std::string content_type = top.content_type;
  bool fetched_child = false;
  if (document_kind(top.bytes, top.content_type) == DocumentKind::kIndex) {
    Index index = parse_index(top.bytes);
    Descriptor child = choose_platform(index, options_.platform);
    if (child.size > options_.max_manifest_bytes) {
      throw Error(ErrorKind::kResourceExhausted, "manifest " + child.digest + " of " + ref.string() + " is " +
                                                     std::to_string(child.size) + " bytes, over the limit");
    }
    lease.add(child.digest);
    if (auto local = content_->read(child.digest)) {
      manifest_bytes = std::move(*local);
      content_type = child.media_type;
    } else {
      FetchedManifest m = session.fetch_manifest(child.digest);
      manifest_bytes = std::move(m.bytes);
      content_type = m.content_type;
      fetched_child = true;
    }
    manifest_digest = child.digest;
    blobs.push_back(child.digest);
    if (document_kind(manifest_bytes, content_type) != DocumentKind::kManifest) {
      throw Error(ErrorKind::kInvalidArgument,
                  "the index of " + ref.string() + " points at another index for " + options_.platform.string());
    }
  }
  Manifest manifest = parse_manifest(manifest_bytes);
  for (const auto& layer : manifest.layers) {
    if (!is_supported_layer_type(layer.media_type)) {
      throw Error(ErrorKind::kInvalidArgument, "layer " + layer.digest + " of " + ref.string() +
                                                   " has an unsupported media type \"" + layer.media_type + "\"");
    }
  }
  lease.add(manifest.config.digest);
  std::string config_bytes;
  if (auto local = content_->read(manifest.config.digest)) {
    config_bytes = std::move(*local);
  } else {
    config_bytes = session.fetch_small_blob(manifest.config, options_.max_config_bytes);
  }
  ParsedConfig config = parse_image_config(config_bytes);
  if (config.diff_ids.size() != manifest.layers.size()) {
    throw Error(ErrorKind::kInvalidArgument, "image " + ref.string() + ": the config lists " +
                                                 std::to_string(config.diff_ids.size()) + " layers, the manifest " +
                                                 std::to_string(manifest.layers.size()));
  }

  PullPlan plan;
  plan.ref = ref;
  plan.layers = manifest.layers;
  plan.chain_ids = snapshot::chain_ids(config.diff_ids);
  plan.bytes_downloaded = request.bytes_downloaded;
  uint64_t size = manifest.config.size;
  for (const auto& layer : manifest.layers) {
    lease.add(layer.digest);
    size += layer.size;
  }
  for (const auto& chain : plan.chain_ids) lease.add(chain);
  pull_layers(session, plan);

  // The small blobs go into the store last: until then nothing refers to them.
  content_->put(top.digest, top.bytes);
  if (manifest_digest != top.digest) content_->put(manifest_digest, manifest_bytes);
  content_->put(manifest.config.digest, config_bytes);

  ImageRecord record;
  record.id = manifest.config.digest;
  if (ref.digest.empty()) record.repo_tags.push_back(ref.name() + ":" + ref.tag);
  record.repo_digests.push_back(ref.name() + "@" + top.digest);
  record.size = size;
  record.config = config.config;
  record.chain_id = plan.chain_ids.empty() ? "" : plan.chain_ids.back();
  record.annotations = request.annotations;
  record.config_json = config_bytes;
  image_user(config.config.user, record.uid, record.username);
  record.manifest_digest = manifest_digest;
  record.diff_ids = config.diff_ids;
  record.media_type = manifest.media_type.empty() ? content_type : manifest.media_type;
  record.blobs = blobs;
  record.blobs.push_back(manifest.config.digest);
  for (const auto& layer : manifest.layers) {
    record.layer_digests.push_back(layer.digest);
    record.blobs.push_back(layer.digest);
  }
  {
    std::lock_guard lock(records_mutex_);
    auto existing = records_.find(record.id);
    if (existing != records_.end()) {
      const ImageRecord& old = existing->second;
      for (const auto& t : old.repo_tags) add_unique(record.repo_tags, t);
      for (const auto& d : old.repo_digests) add_unique(record.repo_digests, d);
      for (const auto& b : old.blobs) add_unique(record.blobs, b);
      for (const auto& [k, v] : old.annotations) record.annotations.emplace(k, v);
      record.pinned = old.pinned;
    }
    // A tag names one image: take it from any other image that had it.
    if (ref.digest.empty()) {
      const std::string tag = ref.name() + ":" + ref.tag;
      for (auto& [id, other] : records_) {
        if (id == record.id) continue;
        auto it = std::find(other.repo_tags.begin(), other.repo_tags.end(), tag);
        if (it == other.repo_tags.end()) continue;
        other.repo_tags.erase(it);
        ImageRecord copy = other;
        save_record_locked(copy);
        spdlog::info("tag {} moved from image {} to {}", tag, id, record.id);
      }
    }
    save_record_locked(record);
  }
  double took = seconds_since(start);
  spdlog::info("pulled {} ({}) as {}: {} layers, {:.1f} MiB in {:.3f} s{}", ref.string(), top.digest, record.id,
               manifest.layers.size(), mib(size), took, fetched_child ? " (platform manifest fetched)" : "");
  return record.id;
}

void ImageService::pull_layers(RegistrySession& session, const PullPlan& plan) {
  std::vector<size_t> todo;
  for (size_t i = 0; i < plan.layers.size(); ++i) {
    if (!snapshots_->has(plan.chain_ids[i])) todo.push_back(i);
  }
  if (todo.empty()) return;
  std::atomic<size_t> next{0};
  std::atomic<bool> abort{false};
  std::mutex error_mutex;  // guards first_error
  std::exception_ptr first_error;
  auto worker = [&] {
    for (;;) {
      size_t k = next.fetch_add(1);
      if (k >= todo.size() || abort.load()) return;
      try {
        pull_layer(session, plan, todo[k], abort);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        abort.store(true);
      }
    }
  };
  size_t n = std::min<size_t>(todo.size(), static_cast<size_t>(options_.max_concurrent_downloads));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n; ++i) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

void ImageService::pull_layer(RegistrySession& session, const PullPlan& plan, size_t index,
                              const std::atomic<bool>& abort) {
  const Descriptor& layer = plan.layers[index];
  const std::string& chain = plan.chain_ids[index];
  // A download shared with another pull fails with that pull (e.g. its client went away): then
  // this pull fetches the layer itself, once.
  for (int attempt = 1;; ++attempt) {
    if (snapshots_->has(chain)) return;
    bool owner = false;
    try {
      pull_layer_once(session, plan, index, abort, owner);
      return;
    } catch (...) {
      if (owner || attempt >= 2 || abort.load()) throw;
      spdlog::info("pulling {} layer {}: the shared download failed, fetching it again", plan.ref.string(),
                   short_digest(layer.digest));
    }
  }
}

void ImageService::pull_layer_once(RegistrySession& session, const PullPlan& plan, size_t index,
                                   const std::atomic<bool>& abort, bool& owner) {
  const Descriptor& layer = plan.layers[index];
  const std::string& chain = plan.chain_ids[index];
  const std::string parent = index == 0 ? "" : plan.chain_ids[index - 1];
  const auto start = Clock::now();
  std::shared_ptr<Ingest> ingest = content_->begin(layer.digest, layer.size, owner);

  // The unpacking thread reads the bytes as the download writes them.
  std::exception_ptr apply_error;
  std::thread applier([&] {
    try {
      auto reader = ingest->open_reader();
      layer::LayerApplyOptions apply_options;
      apply_options.sync = options_.sync_layers;
      snapshots_->apply(
          chain, parent, [&](char* buf, size_t cap) { return reader->read(buf, cap); }, apply_options);
    } catch (...) {
      apply_error = std::current_exception();
      ingest->cancel(apply_error);
    }
  });
  if (owner) {
    try {
      auto last_report = Clock::now();
      uint64_t received = 0;
      session.fetch_blob(
          layer, 0,
          [&](const char* data, size_t n) {
            ingest->write(data, n);
            received += n;
            if (plan.bytes_downloaded) plan.bytes_downloaded->fetch_add(n, std::memory_order_relaxed);
            auto now = Clock::now();
            if (now - last_report > std::chrono::seconds(5)) {
              last_report = now;
              double s = seconds_since(start);
              spdlog::info("pulling {} layer {}: {:.1f} of {:.1f} MiB ({:.1f} MiB/s)", plan.ref.string(),
                           short_digest(layer.digest), mib(received), mib(layer.size), mib(received) / s);
            }
          },
          [&] { return abort.load() || ingest->cancelled(); });
      ingest->commit();
    } catch (const std::exception& e) {
      spdlog::warn("pulling {} layer {} failed: {}", plan.ref.string(), short_digest(layer.digest), e.what());
      ingest->fail(std::current_exception());
    } catch (...) {
      ingest->fail(std::current_exception());
    }
  }
  applier.join();
  if (apply_error) std::rethrow_exception(apply_error);
  ingest->wait();
  double s = seconds_since(start);
  spdlog::info("pulled {} layer {}: {:.1f} MiB in {:.3f} s ({:.1f} MiB/s){}", plan.ref.string(),
               short_digest(layer.digest), mib(layer.size), s, s > 0 ? mib(layer.size) / s : 0.0,
               owner ? "" : " (shared download)");
}

}  // namespace crisp::image
