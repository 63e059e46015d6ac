#include "image/content_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "image/reference.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"

namespace crisp::image {

// ---- IngestReader ----

IngestReader::IngestReader(std::shared_ptr<Ingest> ingest, UniqueFd fd) : ingest_(std::move(ingest)), fd_(std::move(fd)) {}

size_t IngestReader::read(char* buf, size_t cap) {
  uint64_t available = 0;
  {
    std::unique_lock lock(ingest_->mutex_);
    // The last bytes of a blob are held back until it is verified, so a consumer can never
    // finish (and commit what it made) from unverified content.
    ingest_->changed_.wait(lock, [&] {
      return ingest_->done_ || (ingest_->written_ > offset_ && ingest_->written_ < ingest_->size_);
    });
    if (ingest_->error_) std::rethrow_exception(ingest_->error_);
    available = ingest_->written_ - offset_;
  }
  if (available == 0 || cap == 0) return 0;  // done and verified
  size_t want = static_cast<size_t>(std::min<uint64_t>(available, cap));
  for (;;) {
    ssize_t n = ::pread(fd_.get(), buf, want, static_cast<off_t>(offset_));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("reading blob " + ingest_->digest());
    if (n == 0) throw Error(ErrorKind::kInternal, "blob " + ingest_->digest() + " shrank while it was read");
    offset_ += static_cast<uint64_t>(n);
    return static_cast<size_t>(n);
  }
}

// ---- Ingest ----

Ingest::Ingest(std::string digest, uint64_t size, std::string temp_path, std::string final_path, UniqueFd fd,
               bool complete)
    : digest_(std::move(digest)),
      size_(size),
      temp_path_(std::move(temp_path)),
      final_path_(std::move(final_path)),
      fd_(std::move(fd)) {
  if (complete) {
    done_ = true;
    written_ = size;
  }
}

Ingest::~Ingest() {
  if (!done_) ::unlink(temp_path_.c_str());
}

uint64_t Ingest::written() const {
  std::lock_guard lock(mutex_);
  return written_;
}

void Ingest::write(const char* data, size_t n) {
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) std::rethrow_exception(error_ ? error_ : std::make_exception_ptr(Error(ErrorKind::kUnavailable, "cancelled")));
    if (done_) throw Error(ErrorKind::kInternal, "write to a finished ingest of " + digest_);
    if (written_ + n > size_) {
      throw Error(ErrorKind::kInvalidArgument, "blob " + digest_ + " is larger than the " + std::to_string(size_) +
                                                   " bytes its descriptor says");
    }
  }
  hash_.update(data, n);
  size_t off = 0;
  while (off < n) {
    ssize_t w = ::write(fd_.get(), data + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw_errno(ErrorKind::kResourceExhausted, errno, "writing blob " + digest_);
    off += static_cast<size_t>(w);
  }
  {
    std::lock_guard lock(mutex_);
    written_ += n;
  }
  changed_.notify_all();
}

void Ingest::commit() {
  try {
    uint64_t got = written();
    if (got != size_) {
      throw Error(ErrorKind::kInvalidArgument, "blob " + digest_ + " is truncated: " + std::to_string(got) + " of " +
                                                   std::to_string(size_) + " bytes arrived");
    }
    std::string actual = hash_.digest();
    if (actual != digest_) {
      throw Error(ErrorKind::kInvalidArgument, "blob " + digest_ + " does not match its digest (the content is " +
                                                   actual + ")");
    }
    if (::fsync(fd_.get()) != 0) throw_errno("fsync " + temp_path_);
    if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) throw_errno("rename " + temp_path_);
    fsync_dir(final_path_.substr(0, final_path_.rfind('/')));
  } catch (...) {
    fail(std::current_exception());
    throw;
  }
  std::function<void()> on_finish;
  {
    std::lock_guard lock(mutex_);
    finish_locked(nullptr);
    on_finish = std::move(on_finish_);
  }
  changed_.notify_all();
  if (on_finish) on_finish();
}

void Ingest::fail(std::exception_ptr error) {
  std::function<void()> on_finish;
  {
    std::lock_guard lock(mutex_);
    if (done_) return;
    ::unlink(temp_path_.c_str());
    finish_locked(error ? error : std::make_exception_ptr(Error(ErrorKind::kInternal, "ingest failed")));
    on_finish = std::move(on_finish_);
  }
  changed_.notify_all();
  if (on_finish) on_finish();
}

void Ingest::finish_locked(std::exception_ptr error) {
  done_ = true;
  error_ = std::move(error);
  fd_.reset();
}

void Ingest::cancel(std::exception_ptr reason) {
  {
    std::lock_guard lock(mutex_);
    if (done_ || cancelled_) return;
    cancelled_ = true;
    if (!error_) error_ = reason;
  }
  changed_.notify_all();
}

bool Ingest::cancelled() const {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

void Ingest::wait() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return done_; });
  if (error_) std::rethrow_exception(error_);
}

std::unique_ptr<IngestReader> Ingest::open_reader() {
  std::lock_guard lock(mutex_);
  if (done_ && error_) std::rethrow_exception(error_);
  const std::string& path = done_ ? final_path_ : temp_path_;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  // commit() renames before it marks the ingest done: the verified blob is in its place.
  if (!fd && errno == ENOENT && !done_) fd.reset(::open(final_path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_errno("open " + path);
  return std::make_unique<IngestReader>(shared_from_this(), std::move(fd));
}

// ---- ContentStore ----

ContentStore::ContentStore(const std::string& root) : dir_(root + "/content") {
  make_dirs(dir_ + "/sha256", 0700);
  remove_tree(dir_ + "/ingest");  // what a crash left half written
  make_dirs(dir_ + "/ingest", 0700);
  // An interrupted put() leaves "<hex>.tmp-XXXXXX" next to the blobs: never a blob, remove it.
  if (DIR* d = ::opendir((dir_ + "/sha256").c_str())) {
    std::vector<std::string> stray;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != ".." && !is_sha256_hex(name)) stray.push_back(name);
    }
    ::closedir(d);
    for (const auto& name : stray) ::unlink((dir_ + "/sha256/" + name).c_str());
  }
}

std::string ContentStore::blob_path(const std::string& digest) const { return dir_ + "/sha256/" + digest_hex(digest); }

bool ContentStore::has(const std::string& digest) const {
  struct stat st;
  return is_sha256_digest(digest) && ::stat(blob_path(digest).c_str(), &st) == 0;
}

std::optional<uint64_t> ContentStore::size(const std::string& digest) const {
  struct stat st;
  if (!is_sha256_digest(digest) || ::stat(blob_path(digest).c_str(), &st) != 0) return std::nullopt;
  return static_cast<uint64_t>(st.st_size);
}

std::optional<std::string> ContentStore::read(const std::string& digest) const {
  if (!is_sha256_digest(digest)) return std::nullopt;
  auto bytes = read_file_if_exists(blob_path(digest));
  if (bytes && sha256_digest(*bytes) != digest) {
    throw Error(ErrorKind::kInternal, "stored blob " + digest + " is corrupt");
  }
  return bytes;
}

void ContentStore::put(const std::string& digest, const std::string& bytes) {
  if (sha256_digest(bytes) != digest) {
    throw Error(ErrorKind::kInvalidArgument, "blob does not match its digest " + digest);
  }
  if (has(digest)) return;
  // atomic_write_file writes a temp file next to the target, fsyncs it and renames.
  atomic_write_file(blob_path(digest), bytes, 0644);
}

std::vector<std::string> ContentStore::list() const {
  std::vector<std::string> out;
  DIR* d = ::opendir((dir_ + "/sha256").c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (is_sha256_hex(name)) out.push_back("sha256:" + name);
  }
  ::closedir(d);
  return out;
}

std::vector<std::string> ContentStore::in_flight() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [digest, weak] : in_flight_) {
    if (!weak.expired()) out.push_back(digest);
  }
  return out;
}

void ContentStore::remove(const std::string& digest) {
  std::lock_guard lock(mutex_);
  auto it = in_flight_.find(digest);
  if (it != in_flight_.end() && !it->second.expired()) return;
  if (::unlink(blob_path(digest).c_str()) != 0 && errno != ENOENT) throw_errno("remove blob " + digest);
}

std::shared_ptr<Ingest> ContentStore::begin(const std::string& digest, uint64_t size, bool& owner) {
  std::string final_path = blob_path(digest);
  std::lock_guard lock(mutex_);
  owner = false;
  auto it = in_flight_.find(digest);
  if (it != in_flight_.end()) {
    if (auto running = it->second.lock()) return running;
    in_flight_.erase(it);
  }
  struct stat st;
  if (::stat(final_path.c_str(), &st) == 0) {
    if (static_cast<uint64_t>(st.st_size) == size) {
      return std::make_shared<Ingest>(digest, size, final_path, final_path, UniqueFd(), true);
    }
    ::unlink(final_path.c_str());  // a blob of the wrong size cannot have the digest: fetch it again
  }
  std::string temp_path = dir_ + "/ingest/" + digest_hex(digest) + "-" + random_hex(8);
  UniqueFd fd(::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) throw_errno("create " + temp_path);
  auto ingest = std::make_shared<Ingest>(digest, size, temp_path, final_path, std::move(fd), false);
  std::weak_ptr<Ingest> weak = ingest;
  ingest->on_finish_ = [this, digest, weak] {
    std::lock_guard l(mutex_);
    auto found = in_flight_.find(digest);
    if (found != in_flight_.end() && found->second.lock() == weak.lock()) in_flight_.erase(found);
  };
  in_flight_[digest] = ingest;
  owner = true;
  return ingest;
}

}  // namespace crisp::image
