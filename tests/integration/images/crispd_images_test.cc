// The CRI ImageService through a real crispd: PullImage, ImageStatus (verbose), ListImages,
// RemoveImage, ImageFsInfo, error codes, and a SIGKILL in the middle of a pull.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "image/registry_auth.h"
#include "runtime/base/file_util.h"
#include "tests/integration/images/stalling_registry.h"
#include "tests/support/crispd_fixture.h"
#include "tests/support/oci_builder.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_assets.h"
#include "tests/support/test_images.h"

namespace crisp::test {
namespace {

namespace v1 = ::runtime::v1;

const StandardImages& standard_images() {
  static StandardImages images = push_standard_images(RegistryEnvironment::registry());
  return images;
}

grpc::Status pull(CrispdFixture& crispd, const std::string& ref, std::string* id = nullptr,
                  const v1::AuthConfig* auth = nullptr) {
  v1::PullImageRequest req;
  req.mutable_image()->set_image(ref);
  if (auth) *req.mutable_auth() = *auth;
  v1::PullImageResponse resp;
  auto ctx = client_context(std::chrono::seconds(120));
  grpc::Status s = crispd.images().PullImage(ctx.get(), req, &resp);
  if (id) *id = resp.image_ref();
  return s;
}

v1::ImageStatusResponse status(CrispdFixture& crispd, const std::string& ref, bool verbose = false) {
  v1::ImageStatusRequest req;
  req.mutable_image()->set_image(ref);
  req.set_verbose(verbose);
  v1::ImageStatusResponse resp;
  auto ctx = client_context();
  grpc::Status s = crispd.images().ImageStatus(ctx.get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp;
}

std::vector<v1::Image> list(CrispdFixture& crispd, const std::string& filter = "") {
  v1::ListImagesRequest req;
  if (!filter.empty()) req.mutable_filter()->mutable_image()->set_image(filter);
  v1::ListImagesResponse resp;
  auto ctx = client_context();
  grpc::Status s = crispd.images().ListImages(ctx.get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return {resp.images().begin(), resp.images().end()};
}

grpc::Status remove(CrispdFixture& crispd, const std::string& ref) {
  v1::RemoveImageRequest req;
  req.mutable_image()->set_image(ref);
  v1::RemoveImageResponse resp;
  auto ctx = client_context();
  return crispd.images().RemoveImage(ctx.get(), req, &resp);
}

size_t entries(const std::string& dir) {
  size_t n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

CrispdOptions with_empty_hosts_dir(TempDir& dir, const std::string& extra_toml = "") {
  CrispdOptions o;
  o.args = {"--registry-config-dir", dir.path()};
  o.config_toml = extra_toml;
  return o;
}

TEST(CrispdImages, PullStatusListFsInfoRemove) {
  const StandardImages& images = standard_images();
  TempDir hosts("crisp-hosts");
  CrispdFixture crispd(with_empty_hosts_dir(hosts));
  std::string busybox, config;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(pull(crispd, images.busybox.ref, &busybox).ok()) << crispd.log();
  double cold = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(pull(crispd, images.busybox.ref).ok());
  double warm = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("PullImage crisp-test/busybox through crispd: cold %.3f s, warm %.3f s\n", cold, warm);
  ASSERT_TRUE(pull(crispd, images.config.ref, &config).ok());
  EXPECT_EQ(busybox.rfind("sha256:", 0), 0u);

  v1::ImageStatusResponse st = status(crispd, images.busybox.ref);
  ASSERT_TRUE(st.has_image());
  EXPECT_EQ(st.image().id(), busybox);
  EXPECT_EQ(st.image().repo_tags_size(), 1);
  EXPECT_EQ(st.image().repo_tags(0), images.busybox.ref);
  ASSERT_EQ(st.image().repo_digests_size(), 1);
  EXPECT_NE(st.image().repo_digests(0).find(images.busybox.digest), std::string::npos);
  EXPECT_GT(st.image().size(), 100000u);
  EXPECT_FALSE(st.image().has_uid());
  EXPECT_TRUE(st.info().empty());

  st = status(crispd, config, true);
  ASSERT_TRUE(st.has_image());
  ASSERT_TRUE(st.image().has_uid());
  EXPECT_EQ(st.image().uid().value(), 1000);
  ASSERT_EQ(st.info().count("info"), 1u);
  auto info = nlohmann::json::parse(st.info().at("info"));
  EXPECT_EQ(info["imageSpec"]["config"]["WorkingDir"], config_image::kWorkingDir);
  EXPECT_EQ(info["chainID"].get<std::string>().rfind("sha256:", 0), 0u);
  EXPECT_EQ(info["layers"].size(), 2u);

  // Absent: no image, not an error.
  st = status(crispd, "docker.io/library/absent:latest");
  EXPECT_FALSE(st.has_image());

  EXPECT_EQ(list(crispd).size(), 2u);
  auto filtered = list(crispd, images.config.ref);
  ASSERT_EQ(filtered.size(), 1u);
  EXPECT_EQ(filtered[0].id(), config);

  v1::ImageFsInfoResponse fs;
  auto ctx = client_context();
  ASSERT_TRUE(crispd.images().ImageFsInfo(ctx.get(), {}, &fs).ok());
  ASSERT_EQ(fs.image_filesystems_size(), 1);
  EXPECT_GT(fs.image_filesystems(0).used_bytes().value(), 1000000u);
  EXPECT_GT(fs.image_filesystems(0).inodes_used().value(), 20u);
  EXPECT_GT(fs.image_filesystems(0).timestamp(), 0);
  EXPECT_FALSE(fs.image_filesystems(0).fs_id().mountpoint().empty());
  ASSERT_EQ(fs.container_filesystems_size(), 1);

  EXPECT_TRUE(remove(crispd, images.config.ref).ok());
  EXPECT_TRUE(remove(crispd, images.config.ref).ok());  // missing: not an error
  EXPECT_EQ(list(crispd).size(), 1u);
  EXPECT_TRUE(remove(crispd, busybox).ok());
  EXPECT_TRUE(list(crispd).empty());
  EXPECT_EQ(entries(crispd.root() + "/content/sha256"), 0u);
  EXPECT_EQ(entries(crispd.root() + "/snapshots/chains"), 0u);
}

TEST(CrispdImages, ErrorCodes) {
  TempDir hosts("crisp-hosts");
  CrispdFixture crispd(with_empty_hosts_dir(hosts));
  EXPECT_EQ(pull(crispd, "Not A Ref").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(pull(crispd, RegistryEnvironment::registry().host() + "/crisp-test/missing:latest").error_code(),
            grpc::StatusCode::NOT_FOUND);

  RegistryOptions auth_options;
  auth_options.username = "kubelet";
  auth_options.password = "pa55";
  RegistryFixture registry(auth_options);
  registry.push_image("private/busybox", "latest", busybox_image(ManifestFormat::kOci));
  std::string ref = registry.host() + "/private/busybox:latest";
  grpc::Status s = pull(crispd, ref);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(s.error_message().find("authentication"), std::string::npos) << s.error_message();
  v1::AuthConfig auth;
  auth.set_username("kubelet");
  auth.set_password("pa55");
  std::string id;
  s = pull(crispd, ref, &id, &auth);
  EXPECT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(remove(crispd, id).ok());
  v1::AuthConfig encoded;
  encoded.set_auth(image::base64_encode("kubelet:pa55"));
  s = pull(crispd, ref, &id, &encoded);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST(CrispdImages, StalledPullIsDeadlineExceeded) {
  Layer layer = make_layer({file("big", random_hex(100000))}, Compression::kNone);
  ImageConfig config;
  Image image = build_image(config, {layer}, ManifestFormat::kOci);
  StallingRegistry server(
      {{"/v2/stall/me/manifests/latest", {image.manifest.media_type, image.manifest.bytes}},
       {"/v2/stall/me/blobs/" + image.config.digest, {"application/octet-stream", image.config.bytes}},
       {"/v2/stall/me/blobs/" + layer.digest, {"application/octet-stream", layer.data}}},
      "/v2/stall/me/blobs/" + layer.digest, layer.data.size() / 3);
  TempDir hosts("crisp-hosts");
  CrispdFixture crispd(with_empty_hosts_dir(hosts, "[image]\npull_progress_timeout_seconds = 2\n"));
  grpc::Status s = pull(crispd, server.host() + "/stall/me:latest");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  EXPECT_NE(s.error_message().find("no progress"), std::string::npos) << s.error_message();
  EXPECT_EQ(entries(crispd.root() + "/content/sha256"), 0u);
  EXPECT_EQ(entries(crispd.root() + "/content/ingest"), 0u);
}

TEST(CrispdImages, AClientThatGivesUpCancelsThePull) {
  Layer layer = make_layer({file("big", random_hex(100000))}, Compression::kNone);
  ImageConfig config;
  Image image = build_image(config, {layer}, ManifestFormat::kOci);
  StallingRegistry server(
      {{"/v2/stall/me/manifests/latest", {image.manifest.media_type, image.manifest.bytes}},
       {"/v2/stall/me/blobs/" + image.config.digest, {"application/octet-stream", image.config.bytes}},
       {"/v2/stall/me/blobs/" + layer.digest, {"application/octet-stream", layer.data}}},
      "/v2/stall/me/blobs/" + layer.digest, layer.data.size() / 3);
  TempDir hosts("crisp-hosts");
  CrispdFixture crispd(with_empty_hosts_dir(hosts));  // progress timeout: the default 60 s
  v1::PullImageRequest req;
  req.mutable_image()->set_image(server.host() + "/stall/me:latest");
  v1::PullImageResponse resp;
  auto ctx = client_context(std::chrono::milliseconds(1500));
  grpc::Status s = crispd.images().PullImage(ctx.get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // crispd drops the download soon after, long before its own 60 s timeout.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (entries(crispd.root() + "/content/ingest") != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(entries(crispd.root() + "/content/ingest"), 0u);
  EXPECT_EQ(entries(crispd.root() + "/snapshots/chains"), 0u);
  EXPECT_NE(crispd.log().find("cancelled"), std::string::npos);
}

TEST(CrispdImages, KilledDuringAPullThenRestarted) {
  const StandardImages& images = standard_images();
  // Two layers: the first arrives whole, the second stalls once after a third of its bytes.
  Layer first = make_layer({file("first", random_hex(50000))});
  Layer second = make_layer({file("second", random_hex(300000))}, Compression::kNone);
  ImageConfig config;
  Image image = build_image(config, {first, second}, ManifestFormat::kOci);
  StallingRegistry server(
      {{"/v2/crash/me/manifests/latest", {image.manifest.media_type, image.manifest.bytes}},
       {"/v2/crash/me/blobs/" + image.config.digest, {"application/octet-stream", image.config.bytes}},
       {"/v2/crash/me/blobs/" + first.digest, {"application/octet-stream", first.data}},
       {"/v2/crash/me/blobs/" + second.digest, {"application/octet-stream", second.data}}},
      "/v2/crash/me/blobs/" + second.digest, second.data.size() / 3, /*stall_once=*/true);
  TempDir hosts("crisp-hosts");
  CrispdFixture crispd(with_empty_hosts_dir(hosts));
  std::string busybox;
  ASSERT_TRUE(pull(crispd, images.busybox.ref, &busybox).ok());

  std::string ref = server.host() + "/crash/me:latest";
  std::thread puller([&] { pull(crispd, ref); });
  // Wait until the stalled layer's bytes are in the ingest directory, then crash crispd.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (server.stalls() == 0 || entries(crispd.root() + "/content/ingest") == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the pull never reached the stalled layer";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  crispd.kill9();
  puller.join();
  EXPECT_GE(entries(crispd.root() + "/content/ingest"), 1u);  // the crash left a half blob

  crispd.start();
  // Consistent: the half blob is gone, the earlier image is intact, the interrupted one absent.
  EXPECT_EQ(entries(crispd.root() + "/content/ingest"), 0u);
  EXPECT_EQ(entries(crispd.root() + "/snapshots/tmp"), 0u);
  auto all = list(crispd);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id(), busybox);
  struct stat st;
  EXPECT_NE(::stat((crispd.root() + "/content/sha256/" + second.digest.substr(7)).c_str(), &st), 0);
  // The retried pull completes.
  std::string id;
  grpc::Status s = pull(crispd, ref, &id);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(id, image.config.digest);
  EXPECT_EQ(list(crispd).size(), 2u);
}

// crictl against crispd, when a crictl binary is available (PATH, or $CRICTL).
TEST(CrispdImages, Crictl) {
  std::string crictl = std::getenv("CRICTL") ? std::getenv("CRICTL") : "";
  if (crictl.empty()) {
    for (const char* candidate : {"/usr/bin/crictl", "/usr/local/bin/crictl", "/var/tmp/cri-tools/bin/crictl"}) {
      struct stat st;
      if (::stat(candidate, &st) == 0) {
        crictl = candidate;
        break;
      }
    }
  }
  if (crictl.empty()) GTEST_SKIP() << "no crictl (set CRICTL=/path/to/crictl)";
  const StandardImages& images = standard_images();
  TempDir hosts("crisp-hosts");
  CrispdFixture crispd(with_empty_hosts_dir(hosts));
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {crictl, "--runtime-endpoint", crispd.endpoint(), "--image-endpoint",
                                     crispd.endpoint(), "--timeout", "60s"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  };
  CommandResult r = run({"pull", images.config.ref});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("sha256:"), std::string::npos) << r.output;
  r = run({"images"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("crisp-test/config"), std::string::npos) << r.output;
  r = run({"inspecti", images.config.ref});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto doc = nlohmann::json::parse(r.output);
  EXPECT_EQ(doc["status"]["repoTags"][0], images.config.ref);
  EXPECT_EQ(doc["info"]["imageSpec"]["config"]["User"], config_image::kUser);
  r = run({"imagefsinfo"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("usedBytes"), std::string::npos) << r.output;
  r = run({"rmi", images.config.ref});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run({"images", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("sha256:"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace crisp::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new crisp::test::RegistryEnvironment());
  return RUN_ALL_TESTS();
}
