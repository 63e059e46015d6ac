// ImageService::import_images / export_images: image archives into and out of the content store.
// An import streams every blob into the content store (verified, leased like a pull's), plans the
// images, unpacks the node platform's layers into chain snapshots as a pull does, and writes the
// records last; a failure releases the lease and collects what it stored.
#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "image/archive/image_archive.h"
#include "image/content_store.h"
#include "image/image_record.h"
#include "image/image_service.h"
#include "image/lease.h"
#include "image/reference.h"
#include "image/snapshot/snapshotter.h"
#include "runtime/base/cleanup.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"

namespace crisp::image {

namespace {

constexpr size_t kCopyBufferBytes = 1 << 20;

void add_unique(std::vector<std::string>& v, const std::string& value) {
  if (std::find(v.begin(), v.end(), value) == v.end()) v.push_back(value);
}

// Reads a stored blob from its file.
archive::ByteReader file_reader(const std::string& path) {
  auto fd = std::make_shared<UniqueFd>(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!*fd) throw_errno("open " + path);
  return [fd, path](char* buf, size_t cap) -> size_t {
    for (;;) {
      ssize_t n = ::read(fd->get(), buf, cap);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("read " + path);
      return static_cast<size_t>(n);
    }
  };
}

// The content store as a BlobSource.
class StoreSource : public archive::BlobSource {
 public:
  explicit StoreSource(ContentStore& store) : store_(store) {}
  std::optional<uint64_t> size(const std::string& digest) override { return store_.size(digest); }
  archive::ByteReader open(const std::string& digest) override {
    if (!store_.has(digest)) throw Error(ErrorKind::kNotFound, "blob " + digest + " is not in the store");
    return file_reader(store_.blob_path(digest));
  }

 private:
  ContentStore& store_;
};

void write_all(int fd, const char* data, size_t n, const std::string& what) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw_errno(ErrorKind::kResourceExhausted, errno, "writing " + what);
    data += w;
    n -= static_cast<size_t>(w);
  }
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

// Archive entries into the content store, each digest leased before it is stored.
class ImageService::ArchiveSink : public archive::BlobSink {
 public:
  ArchiveSink(ContentStore& store, Lease& lease) : store_(store), lease_(lease) {}

  void put(const std::string& digest, uint64_t size, const archive::ByteReader& data) override {
    lease_.add(digest);
    stored.insert(digest);
    auto present = store_.size(digest);
    if (present && *present != size) {
      throw Error(ErrorKind::kInvalidArgument, "image archive: blob " + digest + " is " + std::to_string(size) +
                                                   " bytes, which cannot match its digest");
    }
    bool owner = false;
    std::shared_ptr<Ingest> ingest = store_.begin(digest, size, owner);
    std::vector<char> buffer(kCopyBufferBytes);
    if (owner) {
      try {
        for (;;) {
          size_t n = data(buffer.data(), buffer.size());
          if (n == 0) break;
          ingest->write(buffer.data(), n);
        }
        ingest->commit();  // checks size and digest
      } catch (...) {
        ingest->fail(std::current_exception());
        throw;
      }
      return;
    }
    // Stored already (or arriving through a pull): still check the archive's copy.
    Sha256 hash;
    uint64_t total = 0;
    for (;;) {
      size_t n = data(buffer.data(), buffer.size());
      if (n == 0) break;
      hash.update(buffer.data(), n);
      total += n;
    }
    if (total != size || hash.digest() != digest) {
      throw Error(ErrorKind::kInvalidArgument, "image archive: blob " + digest + " does not match its digest");
    }
    ingest->wait();
  }

  std::string put_unnamed(uint64_t size, const archive::ByteReader& data) override {
    // Spool to a file of our own in the ingest directory (emptied when the store opens) to learn
    // the digest, then store it like any blob.
    std::string temp = store_.dir() + "/ingest/import-" + random_hex(8);
    UniqueFd fd(::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) throw_errno("create " + temp);
    Cleanup remove_temp([&] { ::unlink(temp.c_str()); });
    Sha256 hash;
    std::vector<char> buffer(kCopyBufferBytes);
    uint64_t total = 0;
    for (;;) {
      size_t n = data(buffer.data(), buffer.size());
      if (n == 0) break;
      hash.update(buffer.data(), n);
      write_all(fd.get(), buffer.data(), n, temp);
      total += n;
    }
    if (total != size) throw Error(ErrorKind::kInvalidArgument, "image archive: an entry is truncated");
    std::string digest = hash.digest();
    if (::lseek(fd.get(), 0, SEEK_SET) != 0) throw_errno("seek " + temp);
    put(digest, size, [&](char* buf, size_t cap) -> size_t {
      for (;;) {
        ssize_t n = ::read(fd.get(), buf, cap);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("read " + temp);
        return static_cast<size_t>(n);
      }
    });
    return digest;
  }

  std::set<std::string> stored;  // every digest the archive held

 private:
  ContentStore& store_;
  Lease& lease_;
};

std::vector<ImportedImage> ImageService::import_images(const std::function<size_t(char*, size_t)>& read,
                                                       const ImportOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  Lease lease(*this);
  try {
    ArchiveSink sink(*content_, lease);
    archive::ArchiveLimits limits;
    limits.max_metadata_bytes = std::max(options_.max_manifest_bytes, options_.max_config_bytes);
    archive::ArchiveContents contents = archive::read_archive(read, sink, limits);

    StoreSource source(*content_);
    archive::PlanOptions plan_options;
    plan_options.platform = options_.platform;
    plan_options.all_platforms = options.all_platforms;
    plan_options.max_manifest_bytes = options_.max_manifest_bytes;
    plan_options.max_config_bytes = options_.max_config_bytes;
    std::vector<archive::PlannedImage> planned = archive::plan_import(contents, source, plan_options);

    std::vector<ImageRecord> records;
    for (auto& p : planned) {
      for (const auto& b : p.blobs) lease.add(b);
      for (const auto& [digest, bytes] : p.new_blobs) {
        lease.add(digest);
        content_->put(digest, bytes);
      }
      std::vector<std::string> chains = snapshot::chain_ids(p.config.diff_ids);
      for (const auto& c : chains) lease.add(c);
      uint64_t size = p.manifest.config.size;
      for (size_t i = 0; i < p.manifest.layers.size(); ++i) {
        const Descriptor& layer = p.manifest.layers[i];
        size += layer.size;
        if (snapshots_->has(chains[i])) continue;
        layer::LayerApplyOptions apply_options;
        apply_options.sync = options_.sync_layers;
        snapshots_->apply(chains[i], i == 0 ? "" : chains[i - 1], file_reader(content_->blob_path(layer.digest)),
                          apply_options);
      }
      ImageRecord record;
      record.id = p.id;
      record.repo_tags = p.repo_tags;
      record.repo_digests = p.repo_digests;
      record.size = size;
      record.config = p.config.config;
      record.chain_id = chains.empty() ? "" : chains.back();
      record.pinned = options.pin;
      record.config_json = p.config_bytes;
      image_user(p.config.config.user, record.uid, record.username);
      record.manifest_digest = p.manifest_digest;
      record.diff_ids = p.config.diff_ids;
      record.media_type = p.media_type;
      record.blobs = p.blobs;
      for (const auto& layer : p.manifest.layers) record.layer_digests.push_back(layer.digest);
      records.push_back(std::move(record));
    }

    std::vector<ImportedImage> out;
    {
      std::lock_guard lock(records_mutex_);
      for (auto& record : records) {
        auto existing = records_.find(record.id);
        if (existing != records_.end()) {
          const ImageRecord& old = existing->second;
          for (const auto& t : old.repo_tags) add_unique(record.repo_tags, t);
          for (const auto& d : old.repo_digests) add_unique(record.repo_digests, d);
          for (const auto& b : old.blobs) add_unique(record.blobs, b);
          record.annotations = old.annotations;
          record.pinned = record.pinned || old.pinned;
          if (!old.manifest_digest.empty()) {
            // Keep what a pull recorded (its manifest is the registry's); the archive's blobs stay too.
            record.manifest_digest = old.manifest_digest;
            record.media_type = old.media_type;
            record.layer_digests = old.layer_digests;
            record.size = old.size;
          }
        }
        // A tag names one image: take the imported tags from any other image that had them.
        for (auto& [id, other] : records_) {
          if (id == record.id) continue;
          size_t before = other.repo_tags.size();
          for (const auto& tag : record.repo_tags) {
            other.repo_tags.erase(std::remove(other.repo_tags.begin(), other.repo_tags.end(), tag),
                                  other.repo_tags.end());
          }
          if (other.repo_tags.size() != before) {
            ImageRecord copy = other;
            save_record_locked(copy);
            spdlog::info("import: tags of image {} moved to {}", id, record.id);
          }
        }
        save_record_locked(record);
        out.push_back({record.id, record.repo_tags, record.repo_digests});
        spdlog::info("imported image {} ({} layers, tags [{}])", record.id, record.diff_ids.size(),
                     join(record.repo_tags));
      }
    }
    spdlog::info("import: {} images in {:.3f} s", out.size(), seconds_since(start));
    // Blobs the archive held that no imported image keeps (other platforms, stray files) go now.
    std::set<std::string> kept;
    for (const auto& r : records) {
      kept.insert(r.id);
      kept.insert(r.blobs.begin(), r.blobs.end());
    }
    bool unneeded = std::any_of(sink.stored.begin(), sink.stored.end(), [&](const auto& d) { return !kept.count(d); });
    lease.release();
    if (unneeded) collect_garbage_after("an import");
    return out;
  } catch (...) {
    // Nothing of a failed import stays: what it stored is no longer leased and no image needs it.
    lease.release();
    collect_garbage_after("a failed import");
    throw;
  }
}

void ImageService::export_images(const std::vector<std::string>& refs,
                                 const std::function<void(const char*, size_t)>& write) {
  if (refs.empty()) throw Error(ErrorKind::kInvalidArgument, "export: no image named");
  std::vector<archive::ExportImage> images;
  std::vector<std::string> ids;
  Lease lease(*this);  // the blobs stay while they are written
  for (const auto& ref : refs) {
    auto record = find(ref);
    if (!record) throw Error(ErrorKind::kNotFound, "image \"" + ref + "\" not found");
    // A tag exports that tag; an id or digest the image's tags.
    std::vector<std::string> names;
    try {
      Reference parsed = parse_reference(ref);
      bool by_tag = parsed.digest.empty() && !is_sha256_hex(ref) && ref.rfind("sha256:", 0) != 0 &&
                    std::find(record->repo_tags.begin(), record->repo_tags.end(), parsed.name() + ":" + parsed.tag) !=
                        record->repo_tags.end();
      names = by_tag ? std::vector<std::string>{parsed.name() + ":" + parsed.tag} : record->repo_tags;
    } catch (const Error&) {
      names = record->repo_tags;
    }
    auto it = std::find(ids.begin(), ids.end(), record->id);
    if (it != ids.end()) {
      auto& image = images[static_cast<size_t>(it - ids.begin())];
      for (const auto& n : names) add_unique(image.names, n);
      continue;
    }
    for (const auto& b : record->blobs) lease.add(b);
    lease.add(record->id);

    archive::ExportImage image;
    image.names = names;
    image.config_digest = record->id;
    image.layer_digests = record->layer_digests;
    image.top.digest = record->manifest_digest;
    image.top.media_type = record->media_type;
    if (image.top.media_type.empty()) image.top.media_type = media_types::kOciManifest;
    image.top.size = content_->size(record->manifest_digest).value_or(0);
    image.blobs = {record->manifest_digest, record->id};
    for (const auto& l : record->layer_digests) add_unique(image.blobs, l);
    // The index the image came from, when the store holds every blob below it (an --all-platforms
    // import); otherwise only the platform manifest is exported.
    for (const auto& candidate : record->blobs) {
      if (candidate == record->manifest_digest || candidate == record->id) continue;
      auto bytes = content_->read(candidate);
      if (!bytes || bytes->size() > options_.max_manifest_bytes) continue;
      try {
        if (document_kind(*bytes, "") != DocumentKind::kIndex) continue;
        std::vector<std::string> below{candidate};
        bool complete = true;
        std::function<void(const std::string&, int)> walk = [&](const std::string& digest, int depth) {
          auto doc = content_->read(digest);
          if (!doc || depth > 8) {
            complete = false;
            return;
          }
          add_unique(below, digest);
          if (document_kind(*doc, "") == DocumentKind::kIndex) {
            for (const auto& child : parse_index(*doc).manifests) walk(child.digest, depth + 1);
            return;
          }
          Manifest m = parse_manifest(*doc);
          std::vector<Descriptor> parts = m.layers;
          parts.push_back(m.config);
          for (const auto& d : parts) {
            if (!content_->has(d.digest)) complete = false;
            add_unique(below, d.digest);
          }
        };
        for (const auto& child : parse_index(*bytes).manifests) walk(child.digest, 1);
        if (!complete || std::find(below.begin(), below.end(), record->manifest_digest) == below.end()) continue;
        Index index = parse_index(*bytes);
        image.top.digest = candidate;
        image.top.media_type = index.media_type.empty() ? media_types::kOciIndex : index.media_type;
        image.top.size = bytes->size();
        for (const auto& b : below) add_unique(image.blobs, b);
        break;
      } catch (const Error&) {
        continue;
      }
    }
    for (const auto& b : image.blobs) lease.add(b);
    ids.push_back(record->id);
    images.push_back(std::move(image));
  }
  StoreSource source(*content_);
  archive::write_archive(images, source, write);
  spdlog::info("exported {} images", images.size());
}

}  // namespace crisp::image
