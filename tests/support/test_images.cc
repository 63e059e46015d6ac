#include "tests/support/test_images.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "runtime/base/cleanup.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"
#include "tests/support/test_assets.h"

namespace crisp::test {
namespace {

constexpr const char* kHostBusybox = "/bin/busybox";
constexpr const char* kHostLibDir = "/lib/x86_64-linux-gnu";
constexpr const char* kLoader = "ld-linux-x86-64.so.2";

std::string hex_of(const std::string& digest) {
  auto colon = digest.find(':');
  return colon == std::string::npos ? digest : digest.substr(colon + 1);
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> applets_of(const std::string& busybox_path) {
  CommandResult r = run_command({busybox_path, "--list"}, "", false);
  if (r.exit_code != 0) {
    throw Error(ErrorKind::kFailedPrecondition, busybox_path + " --list failed");
  }
  std::vector<std::string> applets;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line == "busybox" || line.find('/') != std::string::npos) continue;
    applets.push_back(line);
  }
  std::sort(applets.begin(), applets.end());
  applets.erase(std::unique(applets.begin(), applets.end()), applets.end());
  return applets;
}

std::string passwd_content() {
  return "root:x:0:0:root:/root:/bin/sh\n"
         "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
         "app:x:1000:1000:app:/home/app:/bin/sh\n";
}

std::string group_content() {
  return "root:x:0:\n"
         "nobody:x:65534:\n"
         "app:x:1000:\n";
}

// The rootfs shared by the static and the dynamic busybox images: /bin/busybox + applets
// as hardlinks, /etc, /tmp, /root, ... `libs` are (tar path, content) pairs added under /lib.
std::vector<TarEntry> busybox_entries(const std::string& busybox_binary,
                                      const std::vector<std::string>& applets,
                                      const std::vector<std::pair<std::string, std::string>>& libs) {
  std::vector<TarEntry> e;
  e.push_back(dir("bin"));
  e.push_back(file("bin/busybox", busybox_binary, 0755));
  for (const auto& applet : applets) e.push_back(hardlink("bin/" + applet, "bin/busybox"));
  e.push_back(dir("dev"));
  e.push_back(dir("etc"));
  e.push_back(file("etc/group", group_content()));
  e.push_back(file("etc/passwd", passwd_content()));
  e.push_back(dir("home"));
  e.push_back(dir("home/app", 0755, kAppUid, kAppGid));
  if (!libs.empty()) {
    e.push_back(dir("lib"));
    e.push_back(dir("lib/x86_64-linux-gnu"));
    for (const auto& [name, content] : libs) e.push_back(file(name, content, 0755));
    e.push_back(dir("lib64"));
    e.push_back(symlink(std::string("lib64/") + kLoader,
                        std::string("/lib/x86_64-linux-gnu/") + kLoader));
  }
  e.push_back(dir("proc", 0555));
  e.push_back(dir("root", 0700));
  e.push_back(dir("sys", 0555));
  e.push_back(dir("tmp", 01777));
  e.push_back(dir("usr"));
  e.push_back(dir("usr/bin"));
  e.push_back(dir("var"));
  return e;
}

ImageConfig busybox_config() {
  ImageConfig config;
  config.env = {kBusyboxPath};
  config.cmd = std::vector<std::string>{"sh"};
  return config;
}

// Writes the blobs and refs of a set of images into a cache directory:
//   <dir>/blobs/<hex>  every layer, config and manifest
//   <dir>/refs.json    [{repo, tag, digest, media_type, blobs: [...], children: [{digest,
//                       media_type}]}] in push order
class ImageSetWriter {
 public:
  explicit ImageSetWriter(std::string dir) : dir_(std::move(dir)) {
    make_dirs(dir_ + "/blobs", 0755);
  }

  std::string put(const std::string& bytes) {
    std::string digest = sha256_digest(bytes);
    std::string path = dir_ + "/blobs/" + hex_of(digest);
    if (!path_exists(path)) atomic_write_file(path, bytes, 0644);
    return digest;
  }

  void add_image(const std::string& repo, const std::string& tag, const Image& image) {
    nlohmann::json ref = image_ref(image);
    ref["repo"] = repo;
    ref["tag"] = tag;
    ref["children"] = nlohmann::json::array();
    refs_.push_back(ref);
  }

  void add_index(const std::string& repo, const std::string& tag, const Index& index) {
    nlohmann::json ref;
    ref["repo"] = repo;
    ref["tag"] = tag;
    ref["blobs"] = nlohmann::json::array();
    ref["children"] = nlohmann::json::array();
    for (const auto& image : index.images) {
      nlohmann::json child = image_ref(image);
      for (const auto& blob : child["blobs"]) ref["blobs"].push_back(blob);
      ref["children"].push_back({{"digest", child["digest"]}, {"media_type", child["media_type"]}});
    }
    ref["digest"] = put(index.manifest.bytes);
    ref["media_type"] = index.manifest.media_type;
    refs_.push_back(ref);
  }

  void finish() { atomic_write_file(dir_ + "/refs.json", refs_.dump(2)); }

 private:
  // Layers with empty data were put() already by the caller (large layers are dropped early).
  nlohmann::json image_ref(const Image& image) {
    nlohmann::json ref;
    ref["blobs"] = nlohmann::json::array();
    for (const auto& layer : image.layers) {
      if (!layer.data.empty()) put(layer.data);
      ref["blobs"].push_back(layer.digest);
    }
    ref["blobs"].push_back(put(image.config.bytes));
    ref["digest"] = put(image.manifest.bytes);
    ref["media_type"] = image.manifest.media_type;
    return ref;
  }

  std::string dir_;
  nlohmann::json refs_ = nlohmann::json::array();
};

// flock(<cache>/lock) held for its lifetime: serialises cache builds and downloads between
// test processes. Not re-entrant: never hold two at once.
class CacheLock {
 public:
  explicit CacheLock(const std::string& cache) {
    std::string path = cache + "/lock";
    fd_ = UniqueFd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd_) throw_errno("open " + path);
    while (flock(fd_.get(), LOCK_EX) != 0) {
      if (errno != EINTR) throw_errno("flock " + path);
    }
  }  // the lock goes with the fd

 private:
  UniqueFd fd_;
};

// Returns <cache>/<name>, building it with `build` under flock(<cache>/lock) if it is missing.
// *built is set when this call built it.
std::string ensure_cached(const std::string& name,
                          const std::function<void(ImageSetWriter&)>& build, bool* built) {
  std::string cache = test_cache_dir();
  std::string final_dir = cache + "/" + name;
  if (path_exists(final_dir + "/refs.json")) return final_dir;
  CacheLock lock(cache);
  if (path_exists(final_dir + "/refs.json")) return final_dir;
  // Leftovers of an interrupted build (we hold the lock, so nobody is writing them).
  if (DIR* d = opendir(cache.c_str())) {
    std::vector<std::string> stale;
    while (dirent* ent = readdir(d)) {
      std::string entry = ent->d_name;
      if (entry.rfind(name + ".tmp-", 0) == 0) stale.push_back(cache + "/" + entry);
    }
    closedir(d);
    for (const auto& path : stale) remove_tree(path);
  }
  remove_tree(final_dir);  // incomplete (no refs.json)
  std::string tmp = final_dir + ".tmp-" + random_hex(4);
  Cleanup remove_tmp([&] { remove_tree(tmp); });
  ImageSetWriter writer(tmp);
  build(writer);
  writer.finish();
  if (rename(tmp.c_str(), final_dir.c_str()) != 0) throw_errno("rename " + tmp);
  remove_tmp.dismiss();
  fsync_dir(cache);
  if (built) *built = true;
  return final_dir;
}

PushedImage make_pushed(const RegistryFixture& registry, const std::string& repo,
                        const std::string& tag, const std::string& digest,
                        const std::string& media_type) {
  PushedImage p;
  p.repo = repo;
  p.tag = tag;
  p.ref = registry.host() + "/" + repo + ":" + tag;
  p.digest = digest;
  p.media_type = media_type;
  return p;
}

// Pushes one ref of refs.json: its blobs, its child manifests (by digest), then its manifest
// under its tag.
PushedImage push_ref(RegistryFixture& registry, const std::string& dir,
                     const nlohmann::json& ref) {
  std::string repo = ref["repo"];
  std::string tag = ref["tag"];
  for (const auto& blob : ref["blobs"]) {
    registry.push_blob(repo, read_file(dir + "/blobs/" + hex_of(blob.get<std::string>())));
  }
  for (const auto& child : ref["children"]) {
    std::string digest = child["digest"];
    registry.push_manifest(repo, digest, read_file(dir + "/blobs/" + hex_of(digest)),
                           child["media_type"]);
  }
  std::string digest = ref["digest"];
  registry.push_manifest(repo, tag, read_file(dir + "/blobs/" + hex_of(digest)),
                         ref["media_type"]);
  return make_pushed(registry, repo, tag, digest, ref["media_type"]);
}

// Pushes every ref of a cache directory, four refs at a time (each ref is its own repository);
// returns them by repo.
std::map<std::string, PushedImage> push_cached(RegistryFixture& registry, const std::string& dir) {
  const nlohmann::json refs = nlohmann::json::parse(read_file(dir + "/refs.json"));
  std::vector<PushedImage> results(refs.size());
  std::vector<std::exception_ptr> errors(refs.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < refs.size();) {
      try {
        results[i] = push_ref(registry, dir, refs[i]);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 0; t < std::min<size_t>(4, refs.size()); ++t) threads.emplace_back(worker);
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  std::map<std::string, PushedImage> pushed;
  for (auto& result : results) pushed[result.repo] = std::move(result);
  return pushed;
}

std::string file_key(const std::string& bytes) { return hex_of(sha256_digest(bytes)).substr(0, 16); }

Layer marker_layer(const std::string& content) {
  return make_layer({file("arch", content)}, Compression::kGzip);
}

void build_standard(ImageSetWriter& w) {
  Layer base = busybox_layer();

  Image busybox = build_image(busybox_config(), {base}, ManifestFormat::kDockerSchema2);
  w.add_image(kBusyboxRepo, kTag, busybox);
  Image busybox_oci = build_image(busybox_config(), {base}, ManifestFormat::kOci);
  w.add_image(kBusyboxOciRepo, kTag, busybox_oci);

  // crisp-test/config
  {
    ImageConfig config = busybox_config();
    config.user = config_image::kUser;
    config.env.push_back(config_image::kEnvFoo);
    config.entrypoint = std::vector<std::string>{config_image::kEntrypoint0,
                                                 config_image::kEntrypoint1};
    config.cmd = std::vector<std::string>{config_image::kCmd};
    config.working_dir = config_image::kWorkingDir;
    config.stop_signal = config_image::kStopSignal;
    config.labels = {{config_image::kLabelKey, config_image::kLabelValue},
                     {"org.crisp.version", "1"}};
    config.exposed_ports = {config_image::kExposedPort};
    config.volumes = {config_image::kVolume};
    Layer work = make_layer({dir("work", 0755, kAppUid, kAppGid)}, Compression::kGzip);
    w.add_image(kConfigRepo, kTag,
                build_image(config, {base, work}, ManifestFormat::kDockerSchema2));
  }

  // crisp-test/multilayer
  {
    Layer l1 = make_layer(
        {
            dir("data"),
            file("data/delete-me.txt", "delete me\n"),
            dir("data/gone-dir"),
            file("data/gone-dir/file.txt", "gone\n"),
            file("data/keep.txt", multilayer::kKeepContent),
            dir("data/opaque"),
            file("data/opaque/old.txt", "old\n"),
            dir("data/opaque/sub"),
            file("data/opaque/sub/old-nested.txt", "old nested\n"),
            file("data/replace.txt", multilayer::kReplaceOldContent),
            dir("etc"),
            file("etc/motd", multilayer::kMotdContent),
        },
        Compression::kGzip);
    Layer l2 = make_layer(
        {
            dir("data"),
            whiteout("data/delete-me.txt"),
            whiteout("data/gone-dir"),
            dir("data/opaque"),
            opaque_whiteout("data/opaque"),
            file("data/opaque/new.txt", multilayer::kOpaqueNewContent),
            file("data/replace.txt", multilayer::kReplaceContent),
        },
        Compression::kZstd);
    Layer l3 = make_layer(
        {
            dir("data"),
            dir("data/links"),
            file("data/links/original.txt", multilayer::kLinksContent, 0644),
            hardlink("data/links/hardlink1", "data/links/original.txt"),
            hardlink("data/links/hardlink2", "data/links/original.txt"),
            symlink("data/links/relative-symlink", multilayer::kRelativeSymlinkTarget),
            symlink("data/links/absolute-symlink", multilayer::kAbsoluteSymlinkTarget),
            symlink("data/links/dangling-symlink", multilayer::kDanglingSymlinkTarget),
        },
        Compression::kGzip);
    Layer l4 = make_layer(
        {
            dir("bin"),
            whiteout("bin/yes"),
            dir("data"),
            file("data/uncompressed.txt", multilayer::kUncompressedContent),
        },
        Compression::kNone);
    w.add_image(kMultilayerRepo, kTag,
                build_image(busybox_config(), {base, l1, l2, l3, l4}, ManifestFormat::kOci));
  }

  // crisp-test/multiarch (OCI index) and crisp-test/multiarch-docker (manifest list)
  for (ManifestFormat format : {ManifestFormat::kOci, ManifestFormat::kDockerSchema2}) {
    ImageConfig amd64 = busybox_config();
    ImageConfig arm64 = busybox_config();
    arm64.platform.architecture = "arm64";
    arm64.platform.variant = multiarch::kArm64Variant;
    Index index = build_index(
        {build_image(amd64, {base, marker_layer(multiarch::kAmd64Content)}, format),
         build_image(arm64, {base, marker_layer(multiarch::kArm64Content)}, format)},
        format);
    w.add_index(format == ManifestFormat::kOci ? kMultiarchRepo : kMultiarchDockerRepo, kTag,
                index);
  }
}

// Finds (downloading once) Debian's busybox .deb. Empty string + reason when unavailable.
std::string busybox_deb(std::string* reason) {
  std::string downloads = test_cache_dir() + "/downloads";
  make_dirs(downloads, 0755);
  auto find_deb = [&]() -> std::string {
    std::string found;
    if (DIR* d = opendir(downloads.c_str())) {
      while (dirent* ent = readdir(d)) {
        std::string name = ent->d_name;
        if (name.rfind("busybox_", 0) == 0 && name.size() > 4 &&
            name.compare(name.size() - 4, 4, ".deb") == 0) {
          found = downloads + "/" + name;
        }
      }
      closedir(d);
    }
    return found;
  };
  std::string deb = find_deb();
  if (!deb.empty()) return deb;
  CacheLock lock(test_cache_dir());
  deb = find_deb();  // another process may have downloaded it meanwhile
  if (!deb.empty()) return deb;
  std::string failed_marker = downloads + "/busybox-download.failed";
  struct stat st;
  if (::stat(failed_marker.c_str(), &st) == 0 && time(nullptr) - st.st_mtime < 3600) {
    *reason = "apt-get download busybox failed less than an hour ago: " +
              read_file_if_exists(failed_marker).value_or("");
    return "";
  }
  // Download into a private dir, then rename: find_deb() never sees a partial file.
  std::string partial = downloads + "/partial-" + random_hex(4);
  make_dirs(partial, 0755);
  Cleanup remove_partial([&] { remove_tree(partial); });
  CommandResult r = run_command({"timeout", "120", "apt-get", "download", "busybox"}, partial);
  if (r.exit_code == 0) {
    if (DIR* d = opendir(partial.c_str())) {
      while (dirent* ent = readdir(d)) {
        std::string name = ent->d_name;
        if (name.size() > 4 && name.compare(name.size() - 4, 4, ".deb") == 0) {
          if (rename((partial + "/" + name).c_str(), (downloads + "/" + name).c_str()) != 0) {
            closedir(d);
            throw_errno("rename " + name);
          }
        }
      }
      closedir(d);
    }
  }
  deb = find_deb();
  if (r.exit_code != 0 || deb.empty()) {
    *reason = "apt-get download busybox failed (exit " + std::to_string(r.exit_code) + "): " +
              r.output;
    atomic_write_file(failed_marker, r.output);
    return "";
  }
  return deb;
}

void build_dynamic(ImageSetWriter& w, const std::string& deb) {
  TempDir unpack("crisp-busybox-deb");
  CommandResult r = run_command({"dpkg-deb", "-x", deb, unpack.path() + "/root"});
  if (r.exit_code != 0) throw Error(ErrorKind::kInternal, "dpkg-deb -x " + deb + ": " + r.output);
  std::string binary_path = unpack.path() + "/root/bin/busybox";
  std::vector<std::pair<std::string, std::string>> libs;
  for (const char* lib : {kLoader, "libc.so.6", "libresolv.so.2"}) {
    libs.emplace_back(std::string("lib/x86_64-linux-gnu/") + lib,
                      read_file(std::string(kHostLibDir) + "/" + lib));
  }
  Layer layer = make_layer(busybox_entries(read_file(binary_path), applets_of(binary_path), libs),
                           Compression::kGzip);
  w.add_image(kBusyboxDynamicRepo, kTag,
              build_image(busybox_config(), {layer}, ManifestFormat::kDockerSchema2));
}

// Deterministic incompressible bytes (xorshift64*).
std::string pseudo_random_bytes(uint64_t size, uint64_t seed) {
  std::string out(size, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (uint64_t i = 0; i + 8 <= size; i += 8) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    uint64_t v = x * 0x2545F4914F6CDD1Dull;
    std::memcpy(out.data() + i, &v, 8);
  }
  return out;
}

void build_large(ImageSetWriter& w) {
  std::vector<Layer> layers;
  layers.push_back(busybox_layer());
  for (int i = 0; i < kLargeBlobLayers; ++i) {
    Layer layer = make_layer({dir("large"), file("large/blob" + std::to_string(i) + ".bin",
                                                 pseudo_random_bytes(kLargeBlobBytes, i + 1))},
                             Compression::kGzip, 1);
    w.put(layer.data);
    layer.data.clear();  // keep memory low: the blob is on disk already
    layers.push_back(std::move(layer));
  }
  std::vector<TarEntry> small{dir("small")};
  char name[64];
  for (int i = 0; i < kLargeSmallFiles; ++i) {
    if (i % 100 == 0) {
      std::snprintf(name, sizeof name, "small/d%02d", i / 100);
      small.push_back(dir(name));
    }
    std::snprintf(name, sizeof name, "small/d%02d/f%04d", i / 100, i);
    small.push_back(file(name, pseudo_random_bytes(64, 1000 + i)));
  }
  layers.push_back(make_layer(small, Compression::kGzip));
  w.add_image(kLargeRepo, kTag,
              build_image(busybox_config(), std::move(layers), ManifestFormat::kDockerSchema2));
}

std::string busybox_key() {
  static const std::string key = file_key(read_file(kHostBusybox));
  return key;
}

}  // namespace

std::string PushedImage::ref_by_digest() const {
  auto colon = ref.rfind(':');
  return ref.substr(0, colon) + "@" + digest;
}

std::vector<TarEntry> busybox_rootfs_entries() {
  return busybox_entries(read_file(kHostBusybox), applets_of(kHostBusybox), {});
}

Layer busybox_layer() { return make_layer(busybox_rootfs_entries(), Compression::kGzip); }

Image busybox_image(ManifestFormat format) {
  return build_image(busybox_config(), {busybox_layer()}, format);
}

std::string standard_images_cache_dir() {
  return ensure_cached("images-v" + std::to_string(kTestImagesVersion) + "-" + busybox_key(),
                       build_standard, nullptr);
}

StandardImages push_standard_images(RegistryFixture& registry) {
  StandardImages result;
  bool built = false;
  std::string dir = ensure_cached(
      "images-v" + std::to_string(kTestImagesVersion) + "-" + busybox_key(), build_standard,
      &built);
  auto pushed = push_cached(registry, dir);
  result.busybox = pushed.at(kBusyboxRepo);
  result.busybox_oci = pushed.at(kBusyboxOciRepo);
  result.multilayer = pushed.at(kMultilayerRepo);
  result.config = pushed.at(kConfigRepo);
  result.multiarch = pushed.at(kMultiarchRepo);
  result.multiarch_docker = pushed.at(kMultiarchDockerRepo);

  std::string deb = busybox_deb(&result.dynamic_skip_reason);
  if (!deb.empty()) {
    std::string key = file_key(read_file(deb) + read_file(std::string(kHostLibDir) + "/libc.so.6"));
    std::string dynamic_dir =
        ensure_cached("images-dynamic-v" + std::to_string(kTestImagesVersion) + "-" + key,
                      [&](ImageSetWriter& w) { build_dynamic(w, deb); }, &built);
    result.busybox_dynamic = push_cached(registry, dynamic_dir).at(kBusyboxDynamicRepo);
  } else {
    std::fprintf(stderr, "crisp-test: skipping %s: %s\n", kBusyboxDynamicRepo,
                 result.dynamic_skip_reason.c_str());
  }
  result.from_cache = !built;
  return result;
}

PushedImage push_large_image(RegistryFixture& registry) {
  std::string dir =
      ensure_cached("images-large-v" + std::to_string(kTestImagesVersion) + "-" + busybox_key(),
                    build_large, nullptr);
  return push_cached(registry, dir).at(kLargeRepo);
}

}  // namespace crisp::test
