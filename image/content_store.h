#pragma once
// The content store: blobs (manifests, configs, layers) addressed by digest under
// <root>/content/sha256/<hex>. A blob is written to <root>/content/ingest/<random>, hashed while
// it streams in, checked for size and digest, fsynced and only then renamed into place, so an
// unverified byte never appears under its digest and a crash leaves at most an ingest file
// (removed when the store opens).
//
// Concurrent fetches of one blob share one download: begin() hands every caller the same Ingest;
// the first ("owner") writes, every caller may read the bytes as they arrive through a reader
// that reports the end only once the blob is verified.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "image/digest.h"
#include "runtime/base/unique_fd.h"

namespace crisp::image {

class Ingest;

// Reads an ingest's bytes from the start, blocking until they have arrived.
class IngestReader {
 public:
  IngestReader(std::shared_ptr<Ingest> ingest, UniqueFd fd);
  // Up to cap bytes; 0 only at the end of a verified blob. Throws the ingest's error if it failed.
  size_t read(char* buf, size_t cap);

 private:
  std::shared_ptr<Ingest> ingest_;
  UniqueFd fd_;
  uint64_t offset_ = 0;
};

class Ingest : public std::enable_shared_from_this<Ingest> {
 public:
  Ingest(std::string digest, uint64_t size, std::string temp_path, std::string final_path, UniqueFd fd, bool complete);
  ~Ingest();

  const std::string& digest() const { return digest_; }
  uint64_t size() const { return size_; }

  // ---- owner ----
  // Appends bytes; kInvalidArgument when more than size arrive.
  void write(const char* data, size_t n);
  uint64_t written() const;
  // Verifies size and digest, syncs and renames into place. Throws (and fails the ingest) on a
  // mismatch.
  void commit();
  // Marks the ingest failed with `error` (re-thrown to readers and waiters); removes the file.
  void fail(std::exception_ptr error);

  // ---- anyone ----
  // A consumer gave up (e.g. the layer was refused): the owner's download stops.
  void cancel(std::exception_ptr reason);
  bool cancelled() const;
  // Blocks until committed or failed; re-throws the failure.
  void wait();
  std::unique_ptr<IngestReader> open_reader();

 private:
  friend class IngestReader;
  void finish_locked(std::exception_ptr error);

  const std::string digest_;
  const uint64_t size_;
  const std::string temp_path_;
  const std::string final_path_;
  UniqueFd fd_;     // the ingest file (write end), closed at the end
  Sha256 hash_;     // of the bytes written so far (owner thread only)

  mutable std::mutex mutex_;     // guards written_, done_, error_, cancelled_
  std::condition_variable changed_;
  uint64_t written_ = 0;
  bool done_ = false;            // committed or failed
  std::exception_ptr error_;     // set when failed
  bool cancelled_ = false;
  std::function<void()> on_finish_;  // removes the entry from the store's in-flight map
  friend class ContentStore;
};

class ContentStore {
 public:
  // Opens (creates) <root>/content and empties content/ingest.
  explicit ContentStore(const std::string& root);

  const std::string& dir() const { return dir_; }
  bool has(const std::string& digest) const;
  std::string blob_path(const std::string& digest) const;
  // Size of a stored blob, nullopt if absent.
  std::optional<uint64_t> size(const std::string& digest) const;
  // Whole blob; nullopt if absent. Re-verifies the digest (kInternal on corruption).
  std::optional<std::string> read(const std::string& digest) const;
  // Stores an in-memory blob after checking its digest (idempotent).
  void put(const std::string& digest, const std::string& bytes);
  // Every stored digest.
  std::vector<std::string> list() const;
  // Deletes a stored blob unless it is being ingested now. Missing is not an error.
  void remove(const std::string& digest);
  // Digests being ingested now (never deleted by a GC).
  std::vector<std::string> in_flight() const;

  // The shared ingest of `digest`: a complete one when the blob is stored, the running one when
  // another caller is fetching it, else a new one and owner = true (the caller must write and
  // commit() or fail() it).
  std::shared_ptr<Ingest> begin(const std::string& digest, uint64_t size, bool& owner);

 private:
  std::string dir_;  // <root>/content
  mutable std::mutex mutex_;                              // guards in_flight_
  std::map<std::string, std::weak_ptr<Ingest>> in_flight_;  // digest -> running ingest
};

}  // namespace crisp::image
