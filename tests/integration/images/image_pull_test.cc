// Library-level tests of crisp::image::ImageService against the test registry: every standard
// image, records, rootfs contents, platform choice, auth, hosts.toml mirrors, hostile content,
// remove + GC, restart.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "image/reference.h"
#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "tests/integration/images/images_test_util.h"
#include "tests/integration/images/stalling_registry.h"
#include "tests/support/oci_builder.h"

namespace crisp::test {
namespace {

using image::ImageRecord;
using image::PullRequest;

std::string pull(ImageStore& store, const std::string& ref, image::PullAuth auth = {}) {
  PullRequest r;
  r.ref = ref;
  r.auth = auth;
  return store->pull(r);
}

ErrorKind pull_error(ImageStore& store, const std::string& ref, std::string* message = nullptr,
                     image::PullAuth auth = {}) {
  try {
    pull(store, ref, auth);
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "pull of " << ref << " succeeded";
  return ErrorKind::kInternal;
}

image::PullAuth creds(const std::string& user, const std::string& password) {
  image::PullAuth a;
  a.username = user;
  a.password = password;
  return a;
}

double seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Registry protocol details through the scripted server.
struct CannedImage {
  Layer layer = make_layer({file("hello", "hello\n")});
  Image image = build_image(ImageConfig{}, {layer}, ManifestFormat::kOci);
  std::map<std::string, CannedResponse> routes(const std::string& repo) const {
    return {{"/v2/" + repo + "/manifests/latest", {image.manifest.media_type, image.manifest.bytes}},
            {"/v2/" + repo + "/blobs/" + image.config.digest, {"application/octet-stream", image.config.bytes}},
            {"/v2/" + repo + "/blobs/" + layer.digest, {"application/octet-stream", layer.data}}};
  }
};

TEST(ImagePull, EveryStandardImage) {
  const StandardImages& images = standard_images();
  ImageStore store;
  std::vector<PushedImage> all = {images.busybox, images.busybox_oci, images.multilayer,
                                  images.config,  images.multiarch,   images.multiarch_docker};
  if (images.busybox_dynamic) all.push_back(*images.busybox_dynamic);
  for (const auto& pushed : all) {
    SCOPED_TRACE(pushed.ref);
    std::string id = pull(store, pushed.ref);
    EXPECT_TRUE(image::is_sha256_digest(id)) << id;
    auto record = store->find(pushed.ref);
    ASSERT_TRUE(record.has_value());
    EXPECT_EQ(record->id, id);
    std::string name = pushed.ref.substr(0, pushed.ref.rfind(':'));
    EXPECT_NE(std::find(record->repo_tags.begin(), record->repo_tags.end(), pushed.ref), record->repo_tags.end());
    EXPECT_NE(std::find(record->repo_digests.begin(), record->repo_digests.end(), name + "@" + pushed.digest),
              record->repo_digests.end());
    EXPECT_GT(record->size, 100000u);
    EXPECT_FALSE(record->chain_id.empty());
    EXPECT_FALSE(record->config_json.empty());
    // Found by id, short id, and digest reference too.
    EXPECT_EQ(store->find(id)->id, id);
    EXPECT_EQ(store->find(id.substr(7, 12))->id, id);
    EXPECT_EQ(store->find(pushed.ref_by_digest())->id, id);
  }
  // busybox and busybox-oci share their config: one image with two tags.
  auto busybox = store->find(images.busybox.ref);
  EXPECT_EQ(busybox->id, store->find(images.busybox_oci.ref)->id);
  EXPECT_EQ(busybox->repo_tags.size(), 2u);
  EXPECT_EQ(busybox->uid, -1);
  EXPECT_EQ(busybox->config.cmd, std::vector<std::string>{"sh"});
}

TEST(ImagePull, ConfigRecord) {
  const StandardImages& images = standard_images();
  ImageStore store;
  pull(store, images.config.ref);
  auto r = store->find(images.config.ref);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 1000);
  EXPECT_EQ(r->username, "");
  EXPECT_EQ(r->config.user, config_image::kUser);
  EXPECT_EQ(r->config.working_dir, config_image::kWorkingDir);
  EXPECT_EQ(r->config.stop_signal, config_image::kStopSignal);
  EXPECT_EQ(r->config.entrypoint, (std::vector<std::string>{config_image::kEntrypoint0, config_image::kEntrypoint1}));
  EXPECT_EQ(r->config.cmd, std::vector<std::string>{config_image::kCmd});
  EXPECT_EQ(r->config.labels.at(config_image::kLabelKey), config_image::kLabelValue);
  EXPECT_NE(std::find(r->config.env.begin(), r->config.env.end(), config_image::kEnvFoo), r->config.env.end());
  EXPECT_EQ(r->config.exposed_ports, std::vector<std::string>{config_image::kExposedPort});
  EXPECT_EQ(r->config.volumes, std::vector<std::string>{config_image::kVolume});
}

TEST(ImagePull, RecordsSurviveARestartAndAnnotationsAndPins) {
  const StandardImages& images = standard_images();
  ImageStore store;
  PullRequest req;
  req.ref = images.busybox.ref;
  req.annotations = {{"io.kubernetes.test", "yes"}};
  std::string id = store->pull(req);
  store->set_pinned(id, true);
  store.reopen();
  auto r = store->find(images.busybox.ref);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, id);
  EXPECT_TRUE(r->pinned);
  EXPECT_EQ(r->annotations.at("io.kubernetes.test"), "yes");
  EXPECT_FALSE(r->config_json.empty());
  EXPECT_EQ(store->list().size(), 1u);
}

TEST(ImagePull, MultilayerRootfsShowsWhiteoutsOpaqueDirsAndHardlinks) {
  const StandardImages& images = standard_images();
  ImageStore store;
  std::string id = pull(store, images.multilayer.ref);
  auto record = store->find(id);
  ASSERT_EQ(record->diff_ids.size(), static_cast<size_t>(multilayer::kLayerCount));
  MountedRootfs rootfs(*store, "c-multilayer", id);
  using namespace multilayer;
  EXPECT_EQ(rootfs.read(kKeepFile).value_or(""), kKeepContent);
  EXPECT_EQ(rootfs.read(kReplaceFile).value_or(""), kReplaceContent);
  EXPECT_EQ(rootfs.read(kOpaqueNewFile).value_or(""), kOpaqueNewContent);
  EXPECT_EQ(rootfs.read(kUncompressedFile).value_or(""), kUncompressedContent);
  EXPECT_EQ(rootfs.read(kMotdFile).value_or(""), kMotdContent);
  EXPECT_EQ(rootfs.read(kLinksOriginal).value_or(""), kLinksContent);
  for (const char* gone : {kDeletedFile, kDeletedDir, kOpaqueOldFile, kOpaqueOldNested, kDeletedApplet}) {
    EXPECT_FALSE(rootfs.exists(gone)) << gone;
  }
  EXPECT_FALSE(rootfs.exists("/data/opaque/sub"));
  struct stat a, b, c;
  ASSERT_EQ(::lstat(rootfs.path(kLinksOriginal).c_str(), &a), 0);
  ASSERT_EQ(::lstat(rootfs.path(kHardlink1).c_str(), &b), 0);
  ASSERT_EQ(::lstat(rootfs.path(kHardlink2).c_str(), &c), 0);
  EXPECT_EQ(a.st_nlink, 3u);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_ino, c.st_ino);
  char buf[256];
  ssize_t n = ::readlink(rootfs.path(kRelativeSymlink).c_str(), buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), kRelativeSymlinkTarget);
  n = ::readlink(rootfs.path(kAbsoluteSymlink).c_str(), buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), kAbsoluteSymlinkTarget);
  n = ::readlink(rootfs.path(kDanglingSymlink).c_str(), buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), kDanglingSymlinkTarget);
  EXPECT_TRUE(rootfs.exists("/bin/sh"));
  EXPECT_FALSE(rootfs.exists("/data/.wh.delete-me.txt"));
  EXPECT_FALSE(rootfs.exists("/data/opaque/.wh..wh..opq"));
}

TEST(ImagePull, IndexPlatformChoice) {
  const StandardImages& images = standard_images();
  for (const PushedImage* pushed : {&images.multiarch, &images.multiarch_docker}) {
    SCOPED_TRACE(pushed->ref);
    {
      ImageStore store;
      std::string id = pull(store, pushed->ref);
      MountedRootfs rootfs(*store, "c-arch", id);
      EXPECT_EQ(rootfs.read(multiarch::kMarkerFile).value_or(""), multiarch::kAmd64Content);
      // The repo digest is the index's.
      auto r = store->find(id);
      std::string name = pushed->ref.substr(0, pushed->ref.rfind(':'));
      EXPECT_EQ(r->repo_digests, std::vector<std::string>{name + "@" + pushed->digest});
      EXPECT_NE(r->manifest_digest, pushed->digest);
    }
    {
      image::ImageServiceOptions arm;
      arm.platform = {"linux", "arm64", "v8"};
      ImageStore store(arm);
      std::string id = pull(store, pushed->ref);
      MountedRootfs rootfs(*store, "c-arch", id);
      EXPECT_EQ(rootfs.read(multiarch::kMarkerFile).value_or(""), multiarch::kArm64Content);
    }
    {
      image::ImageServiceOptions s390;
      s390.platform = {"linux", "s390x", ""};
      ImageStore store(s390);
      EXPECT_EQ(pull_error(store, pushed->ref), ErrorKind::kNotFound);
      EXPECT_TRUE(store.empty());
    }
  }
}

TEST(ImagePull, SecondPullIsCheap) {
  const StandardImages& images = standard_images();
  ImageStore store;
  auto t0 = std::chrono::steady_clock::now();
  std::string id = pull(store, images.busybox.ref);
  double cold = seconds(t0);
  t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(pull(store, images.busybox.ref), id);
  double warm = seconds(t0);
  std::printf("crisp-test/busybox pull: cold %.3f s, warm %.3f s\n", cold, warm);
  EXPECT_LT(warm, cold);
  // A warm pull of an index uses the stored child manifest.
  pull(store, images.multiarch.ref);
  t0 = std::chrono::steady_clock::now();
  pull(store, images.multiarch.ref);
  std::printf("crisp-test/multiarch warm pull: %.3f s\n", seconds(t0));
}

TEST(ImagePull, ConcurrentPullsOfOneImage) {
  const StandardImages& images = standard_images();
  ImageStore store;
  std::vector<std::thread> threads;
  std::vector<std::string> ids(4);
  std::vector<std::string> errors(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      try {
        ids[i] = pull(store, i % 2 ? images.multilayer.ref : images.config.ref);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(errors[i], "") << i;
  EXPECT_EQ(ids[0], ids[2]);
  EXPECT_EQ(ids[1], ids[3]);
  EXPECT_EQ(store->list().size(), 2u);
}

TEST(ImagePull, AuthRequiredCredentialsAccepted) {
  RegistryOptions registry_options;
  registry_options.username = "crisp";
  registry_options.password = "s3cret";
  RegistryFixture registry(registry_options);
  Image img = busybox_image(ManifestFormat::kDockerSchema2);
  registry.push_image("private/busybox", "v1", img);
  std::string ref = registry.host() + "/private/busybox:v1";
  ImageStore store;
  std::string message;
  EXPECT_EQ(pull_error(store, ref, &message), ErrorKind::kPermissionDenied);
  EXPECT_NE(message.find("authentication"), std::string::npos) << message;
  EXPECT_TRUE(store.empty());
  EXPECT_EQ(pull_error(store, ref, &message, creds("crisp", "wrong")), ErrorKind::kPermissionDenied);
  EXPECT_TRUE(store.empty());
  std::string id = pull(store, ref, creds("crisp", "s3cret"));
  EXPECT_EQ(id, img.config.digest);
  store->remove(id);
  EXPECT_TRUE(store.empty());
  image::PullAuth encoded;
  encoded.auth = image::base64_encode("crisp:s3cret");
  EXPECT_EQ(pull(store, ref, encoded), id);
}

TEST(ImagePull, HostsTomlMirrorKeepsTheName) {
  const StandardImages& images = standard_images();
  ImageStore store;
  make_dirs(store.config_dir + "/registry.example.invalid");
  atomic_write_file(store.config_dir + "/registry.example.invalid/hosts.toml",
                    "server = \"https://registry.example.invalid\"\n\n[host.\"http://" +
                        RegistryEnvironment::registry().host() + "\"]\n  capabilities = [\"pull\", \"resolve\"]\n");
  std::string id = pull(store, "registry.example.invalid/crisp-test/busybox:latest");
  auto r = store->find("registry.example.invalid/crisp-test/busybox");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, id);
  EXPECT_EQ(r->repo_tags, std::vector<std::string>{"registry.example.invalid/crisp-test/busybox:latest"});
  EXPECT_EQ(r->repo_digests,
            std::vector<std::string>{"registry.example.invalid/crisp-test/busybox@" + images.busybox.digest});
}

TEST(ImagePull, MirrorFirstThenServerAndNothingToTheRealHost) {
  standard_images();  // pushed into the mirror
  CannedImage canned;
  // The "real" registry: counts every request it gets.
  StallingRegistry upstream(canned.routes("crisp-test/only-upstream"), "", 0);
  ImageStore store;
  make_dirs(store.config_dir + "/registry.example.invalid");
  atomic_write_file(store.config_dir + "/registry.example.invalid/hosts.toml",
                    "server = \"http://" + upstream.host() + "\"\n\n[host.\"http://" +
                        RegistryEnvironment::registry().host() + "\"]\n  capabilities = [\"pull\", \"resolve\"]\n");
  std::string id = pull(store, "registry.example.invalid/crisp-test/busybox:latest");
  EXPECT_EQ(store->find("registry.example.invalid/crisp-test/busybox")->id, id);
  EXPECT_EQ(upstream.requests(), 0);  // the mirror had it: nothing went upstream
  // An image the mirror does not have comes from the server, still under its own name.
  std::string other = pull(store, "registry.example.invalid/crisp-test/only-upstream:latest");
  EXPECT_EQ(other, canned.image.config.digest);
  EXPECT_GE(upstream.requests(), 3);
  EXPECT_TRUE(store->find("registry.example.invalid/crisp-test/only-upstream:latest").has_value());
}

TEST(ImagePull, ByDigest) {
  const StandardImages& images = standard_images();
  ImageStore store;
  std::string id = pull(store, images.busybox.ref_by_digest());
  auto r = store->find(id);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->repo_tags.empty());
  EXPECT_EQ(r->repo_digests, std::vector<std::string>{images.busybox.ref_by_digest()});
}

TEST(ImagePull, ManifestNotMatchingItsDigestIsRefused) {
  CannedImage canned;
  auto routes = canned.routes("a/b");
  std::string other = "sha256:" + std::string(64, 'e');
  routes["/v2/a/b/manifests/" + other] = routes["/v2/a/b/manifests/latest"];
  StallingRegistry server(routes, "", 0);
  ImageStore store;
  std::string message;
  EXPECT_EQ(pull_error(store, server.host() + "/a/b@" + other, &message), ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find("does not match"), std::string::npos) << message;
  EXPECT_TRUE(store.empty());
}

TEST(ImagePull, BadReferenceAndMissingImage) {
  ImageStore store;
  EXPECT_EQ(pull_error(store, "UPPER/case"), ErrorKind::kInvalidArgument);
  std::string message;
  EXPECT_EQ(pull_error(store, RegistryEnvironment::registry().host() + "/crisp-test/nope:latest", &message),
            ErrorKind::kNotFound);
  EXPECT_NE(message.find("not found"), std::string::npos) << message;
  EXPECT_TRUE(store.empty());
}

// ---- hostile content: each refused, nothing left behind ----

class HostileImages : public ::testing::Test {
 protected:
  std::string push(const std::string& repo, const std::vector<Layer>& layers) {
    ImageConfig config;
    config.cmd = {{"/bin/sh"}};
    Image image = build_image(config, layers, ManifestFormat::kOci);
    RegistryEnvironment::registry().push_image(repo, "latest", image);
    pushed_ = image;
    return RegistryEnvironment::registry().host() + "/" + repo + ":latest";
  }
  std::string blob_data_path(const std::string& digest) {
    std::string hex = digest.substr(7);
    return RegistryEnvironment::registry().storage_dir() + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) +
           "/" + hex + "/data";
  }
  Image pushed_;
};

TEST_F(HostileImages, TraversalLayer) {
  std::string ref = push("hostile/traversal", {make_layer({dir("etc"), file("../escape", "x\n")})});
  ImageStore store;
  std::string message;
  EXPECT_EQ(pull_error(store, ref, &message), ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find(".."), std::string::npos) << message;
  EXPECT_TRUE(store.empty());
  EXPECT_FALSE(std::filesystem::exists(store.dir->path() + "/escape"));
}

TEST_F(HostileImages, SymlinkEscapeLayer) {
  std::string ref = push("hostile/symlink", {make_layer({symlink("link", "/tmp"), file("link/crisp-escape", "x\n")})});
  ImageStore store;
  EXPECT_EQ(pull_error(store, ref), ErrorKind::kInvalidArgument);
  EXPECT_TRUE(store.empty());
  EXPECT_FALSE(std::filesystem::exists("/tmp/crisp-escape"));
}

TEST_F(HostileImages, HardlinkOutside) {
  std::string ref = push("hostile/hardlink", {make_layer({hardlink("passwd", "../../../../etc/passwd")})});
  ImageStore store;
  EXPECT_EQ(pull_error(store, ref), ErrorKind::kInvalidArgument);
  EXPECT_TRUE(store.empty());
}

TEST_F(HostileImages, BlobDigestMismatch) {
  Layer layer = make_layer({file("data", std::string(50000, 'a'))});
  std::string ref = push("hostile/mismatch", {layer});
  // Same size, other bytes, served under the original digest.
  std::string tampered = layer.data;
  tampered[tampered.size() / 2] ^= 0x55;
  atomic_write_file(blob_data_path(layer.digest), tampered);
  ImageStore store;
  std::string message;
  ErrorKind kind = pull_error(store, ref, &message);
  EXPECT_EQ(kind, ErrorKind::kInvalidArgument) << message;
  EXPECT_TRUE(store.empty());
}

TEST_F(HostileImages, TruncatedBlob) {
  Layer layer = make_layer({file("data", std::string(80000, 'b'))}, Compression::kNone);
  std::string ref = push("hostile/truncated", {layer});
  atomic_write_file(blob_data_path(layer.digest), layer.data.substr(0, layer.data.size() / 2));
  ImageStore store;
  std::string message;
  pull_error(store, ref, &message);
  EXPECT_FALSE(message.empty());
  EXPECT_TRUE(store.empty());
}

TEST_F(HostileImages, OversizedManifest) {
  std::string ref = push("hostile/manifest", {make_layer({file("a", "a")})});
  image::ImageServiceOptions small;
  small.max_manifest_bytes = 64;
  ImageStore store(small);
  std::string message;
  EXPECT_EQ(pull_error(store, ref, &message), ErrorKind::kResourceExhausted);
  EXPECT_NE(message.find("limit"), std::string::npos) << message;
  EXPECT_TRUE(store.empty());
}

TEST_F(HostileImages, OversizedConfig) {
  std::string ref = push("hostile/config", {make_layer({file("a", "a")})});
  image::ImageServiceOptions small;
  small.max_config_bytes = 16;
  ImageStore store(small);
  EXPECT_EQ(pull_error(store, ref), ErrorKind::kResourceExhausted);
  EXPECT_TRUE(store.empty());
}

TEST_F(HostileImages, RegistryStallsMidBlob) {
  Layer layer = make_layer({file("big", random_hex(200000))}, Compression::kNone);
  ImageConfig config;
  Image image = build_image(config, {layer}, ManifestFormat::kOci);
  std::map<std::string, CannedResponse> routes = {
      {"/v2/stall/me/manifests/latest", {image.manifest.media_type, image.manifest.bytes}},
      {"/v2/stall/me/blobs/" + image.config.digest, {"application/octet-stream", image.config.bytes}},
      {"/v2/stall/me/blobs/" + layer.digest, {"application/octet-stream", layer.data}},
  };
  StallingRegistry server(routes, "/v2/stall/me/blobs/" + layer.digest, layer.data.size() / 2);
  image::ImageServiceOptions quick;
  quick.pull_progress_timeout_seconds = 2;
  ImageStore store(quick);
  auto t0 = std::chrono::steady_clock::now();
  std::string message;
  EXPECT_EQ(pull_error(store, server.host() + "/stall/me:latest", &message), ErrorKind::kDeadlineExceeded);
  double took = seconds(t0);
  EXPECT_NE(message.find("no progress"), std::string::npos) << message;
  std::printf("stalled pull failed after %.2f s: %s\n", took, message.c_str());
  EXPECT_GE(took, 1.5);
  EXPECT_LT(took, 10.0);
  EXPECT_TRUE(store.empty());
}

TEST(RegistryProtocol, SecondPullIsOneManifestRequest) {
  CannedImage canned;
  StallingRegistry server(canned.routes("a/b"), "", 0);
  ImageStore store;
  std::string id = pull(store, server.host() + "/a/b:latest");
  EXPECT_EQ(id, canned.image.config.digest);
  int before = server.requests();
  EXPECT_EQ(before, 3);  // manifest, config, layer
  pull(store, server.host() + "/a/b:latest");
  EXPECT_EQ(server.requests() - before, 1);
}

TEST(RegistryProtocol, RetriesServerErrorsAndFollowsRedirects) {
  CannedImage canned;
  auto routes = canned.routes("a/b");
  routes["/v2/a/b/manifests/latest"].fail_times = 2;
  std::string blob_path = "/v2/a/b/blobs/" + canned.layer.digest;
  routes["/storage/layer"] = routes[blob_path];
  routes[blob_path].redirect_to = "/storage/layer";
  routes[blob_path].fail_times = 1;
  StallingRegistry server(routes, "", 0);
  ImageStore store;
  EXPECT_EQ(pull(store, server.host() + "/a/b:latest"), canned.image.config.digest);
}

TEST(RegistryProtocol, GivesUpAfterRepeatedServerErrors) {
  CannedImage canned;
  auto routes = canned.routes("a/b");
  routes["/v2/a/b/manifests/latest"].fail_times = 100;
  StallingRegistry server(routes, "", 0);
  ImageStore store;
  std::string message;
  EXPECT_EQ(pull_error(store, server.host() + "/a/b:latest", &message), ErrorKind::kUnavailable);
  EXPECT_NE(message.find("503"), std::string::npos) << message;
}

TEST(RegistryProtocol, BearerTokenFlow) {
  CannedImage canned;
  StallingRegistry server(canned.routes("a/b"), "", 0);
  server.set_bearer({"tok-123", "robot", "pw"});
  ImageStore store;
  std::string message;
  EXPECT_EQ(pull_error(store, server.host() + "/a/b:latest", &message), ErrorKind::kPermissionDenied);
  EXPECT_NE(message.find("token"), std::string::npos) << message;
  EXPECT_EQ(pull(store, server.host() + "/a/b:latest", creds("robot", "pw")), canned.image.config.digest);
  int tokens = server.token_requests();
  store->remove(canned.image.config.digest);
  // The token is cached per scope and credentials: no second token request.
  EXPECT_EQ(pull(store, server.host() + "/a/b:latest", creds("robot", "pw")), canned.image.config.digest);
  EXPECT_EQ(server.token_requests(), tokens);
  // A registry token from the kubelet is used as is.
  store->remove(canned.image.config.digest);
  image::PullAuth token;
  token.registry_token = "tok-123";
  EXPECT_EQ(pull(store, server.host() + "/a/b:latest", token), canned.image.config.digest);
  EXPECT_EQ(server.token_requests(), tokens);
}

TEST(ImageRemove, ByTagByIdAndGarbageCollection) {
  const StandardImages& images = standard_images();
  ImageStore store;
  std::string busybox = pull(store, images.busybox.ref);
  pull(store, images.busybox_oci.ref);  // same image, second tag
  std::string config = pull(store, images.config.ref);
  size_t chains = store->snapshotter().chains().size();
  EXPECT_EQ(chains, 2u);  // busybox layer shared; config adds one
  // Removing one tag of two only untags.
  store->remove(images.busybox_oci.ref);
  auto r = store->find(busybox);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->repo_tags, std::vector<std::string>{images.busybox.ref});
  // Removing config frees its own layer but keeps the shared one.
  store->remove(config);
  EXPECT_FALSE(store->find(config));
  EXPECT_EQ(store->snapshotter().chains().size(), 1u);
  EXPECT_FALSE(store->content().has(config));
  EXPECT_TRUE(store->content().has(busybox));
  // Missing: no error.
  EXPECT_NO_THROW(store->remove("sha256:" + std::string(64, '0')));
  EXPECT_NO_THROW(store->remove("docker.io/library/nothing:here"));
  // The last tag removes the image.
  store->remove(images.busybox.ref);
  EXPECT_TRUE(store.empty());
}

TEST(ImageRemove, AContainerKeepsItsLayersUntilRemoveRootfs) {
  const StandardImages& images = standard_images();
  ImageStore store;
  std::string id = pull(store, images.config.ref);
  store->prepare_rootfs("c1", id);
  store->remove(id);
  EXPECT_FALSE(store->find(id));
  EXPECT_EQ(store->snapshotter().chains().size(), 2u);
  store->remove_rootfs("c1");
  store->remove_rootfs("c1");  // idempotent
  EXPECT_TRUE(store.empty());
}

TEST(ImageRemove, TagMovesToANewImage) {
  RegistryFixture& registry = RegistryEnvironment::registry();
  ImageConfig config;
  Image a = build_image(config, {make_layer({file("which", "a\n")})}, ManifestFormat::kOci);
  Image b = build_image(config, {make_layer({file("which", "b\n")})}, ManifestFormat::kDockerSchema2);
  std::string ref = registry.host() + "/crisp-test/moving:latest";
  std::string ref_b = registry.host() + "/crisp-test/moving:b";
  ImageStore store;
  registry.push_image("crisp-test/moving", "latest", a);
  std::string first = pull(store, ref);
  registry.push_image("crisp-test/moving", "latest", b);
  registry.push_image("crisp-test/moving", "b", b);
  std::string second = pull(store, ref);
  pull(store, ref_b);
  EXPECT_NE(first, second);
  EXPECT_EQ(store->find(ref)->id, second);
  auto old = store->find(first);
  ASSERT_TRUE(old);  // still there by id and digest, without the tag
  EXPECT_TRUE(old->repo_tags.empty());
  EXPECT_EQ(old->repo_digests.size(), 1u);
  EXPECT_EQ(store->find(second)->repo_tags.size(), 2u);
  // Removing by tag when the image has two tags only untags.
  store->remove(ref_b);
  EXPECT_EQ(store->find(second)->repo_tags, std::vector<std::string>{ref});
  store->remove(first);
  store->remove(ref);
  EXPECT_TRUE(store.empty());
}

TEST(ImageFs, UsageIsPlausible) {
  const StandardImages& images = standard_images();
  ImageStore store;
  auto before = store->image_fs_usage();
  std::string id = pull(store, images.busybox.ref);
  auto after = store->image_fs_usage();
  struct stat st;
  ASSERT_EQ(::stat("/bin/busybox", &st), 0);
  EXPECT_GT(after.used_bytes, before.used_bytes + static_cast<uint64_t>(st.st_size));
  EXPECT_GT(after.inodes_used, before.inodes_used + 10);
  EXPECT_EQ(after.mountpoint, store.options.root);
  EXPECT_GT(after.timestamp_ns, 0);
  {
    MountedRootfs rootfs(*store, "c-fs", id);
    atomic_write_file(rootfs.path("/tmp/written"), std::string(1 << 20, 'z'));
    auto containers = store->container_fs_usage();
    EXPECT_GE(containers.used_bytes, uint64_t{1} << 20);
    EXPECT_GE(containers.inodes_used, 1u);
  }
  EXPECT_LT(store->container_fs_usage().used_bytes, uint64_t{1} << 20);
}

}  // namespace
}  // namespace crisp::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new crisp::test::RegistryEnvironment());
  return RUN_ALL_TESTS();
}
