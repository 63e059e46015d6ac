// The `crisp` admin CLI against a real crispd, with no registry anywhere: importing docker save
// and OCI image-layout archives, running a pod from an imported image, pins surviving crictl's
// `rmi --prune`, export -> import round trips, info/gc/config, exit codes, and hostile archives
// leaving the store exactly as it was.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "runtime/base/file_util.h"
#include "tests/support/crispd_fixture.h"
#include "tests/support/image_archives.h"
#include "tests/support/oci_builder.h"
#include "tests/support/test_assets.h"
#include "tests/support/test_images.h"

namespace crisp::test {
namespace {

namespace v1 = ::runtime::v1;
using namespace std::chrono_literals;

constexpr const char* kImportedTag = "docker.io/crisp-import/busybox:1";

// Every file name below the store's directories: what an import may add.
std::set<std::string> store_state(const std::string& root) {
  std::set<std::string> out;
  for (const char* sub : {"content/sha256", "content/ingest", "images", "snapshots/chains", "snapshots/tmp"}) {
    std::string dir = root + "/" + sub;
    if (DIR* d = ::opendir(dir.c_str())) {
      while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name != "." && name != "..") out.insert(std::string(sub) + "/" + name);
      }
      ::closedir(d);
    }
  }
  return out;
}

Image busybox_variant(const std::string& marker, const std::string& arch = "amd64") {
  Layer extra = make_layer({dir("etc"), file("etc/marker", marker + "\n")});
  ImageConfig config;
  config.platform.architecture = arch;
  if (arch == "arm64") config.platform.variant = "v8";
  config.env = {kBusyboxPath};
  config.cmd = std::vector<std::string>{"sh"};
  return build_image(config, {busybox_layer(), extra}, ManifestFormat::kOci);
}

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    dir_ = std::make_unique<TempDir>("crisp-admin");
    crispd_ = std::make_unique<CrispdFixture>();
  }

  void TearDown() override {
    for (auto* crispd : {crispd_.get(), second_.get()}) {
      if (!crispd || !crispd->running()) continue;
      v1::ListPodSandboxResponse pods;
      auto ctx = client_context();
      if (crispd->runtime().ListPodSandbox(ctx.get(), {}, &pods).ok()) {
        for (const auto& pod : pods.items()) {
          v1::RemovePodSandboxRequest req;
          req.set_pod_sandbox_id(pod.id());
          v1::RemovePodSandboxResponse resp;
          auto c = client_context();
          EXPECT_TRUE(crispd->runtime().RemovePodSandbox(c.get(), req, &resp).ok());
        }
      }
    }
    second_.reset();
    crispd_.reset();
    dir_.reset();
  }

  std::string write(const std::string& name, const std::string& bytes) {
    std::string path = dir_->path() + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  CommandResult crisp(CrispdFixture& crispd, std::vector<std::string> args, bool merge_stderr = true) {
    args.insert(args.begin(), {build_path("crisp"), "--socket", crispd.socket()});
    return run_command(args, "", merge_stderr);
  }
  CommandResult crisp(std::vector<std::string> args, bool merge_stderr = true) {
    return crisp(*crispd_, std::move(args), merge_stderr);
  }

  std::vector<v1::Image> list_images(CrispdFixture& crispd) {
    v1::ListImagesResponse resp;
    auto ctx = client_context();
    EXPECT_TRUE(crispd.images().ListImages(ctx.get(), {}, &resp).ok());
    return {resp.images().begin(), resp.images().end()};
  }

  std::optional<v1::Image> image_with_tag(CrispdFixture& crispd, const std::string& tag) {
    for (const auto& image : list_images(crispd)) {
      for (const auto& t : image.repo_tags()) {
        if (t == tag) return image;
      }
    }
    return std::nullopt;
  }

  grpc::Status remove_image(const std::string& ref) {
    v1::RemoveImageRequest req;
    req.mutable_image()->set_image(ref);
    v1::RemoveImageResponse resp;
    auto ctx = client_context();
    return crispd_->images().RemoveImage(ctx.get(), req, &resp);
  }

  // What crictl v1.29's `rmi --prune` does: RemoveImage on every image no container uses,
  // ignoring errors.
  void crictl_rmi_prune() {
    v1::ListContainersResponse containers;
    auto ctx = client_context();
    ASSERT_TRUE(crispd_->runtime().ListContainers(ctx.get(), {}, &containers).ok());
    std::set<std::string> used;
    for (const auto& c : containers.containers()) {
      used.insert(c.image_ref());
      used.insert(c.image().image());
    }
    for (const auto& image : list_images(*crispd_)) {
      if (used.count(image.id())) continue;
      (void)remove_image(image.id());
    }
  }

  // A pod with one container running `script` from `image`; returns the container's log path.
  std::string run_container(const std::string& image, const std::string& script, std::string* container_id) {
    v1::RunPodSandboxRequest run;
    auto* pod = run.mutable_config();
    pod->mutable_metadata()->set_name("imported");
    pod->mutable_metadata()->set_uid("uid-imported");
    pod->mutable_metadata()->set_namespace_("default");
    pod->set_log_directory(crispd_->dir() + "/pod-logs");
    v1::RunPodSandboxResponse pod_resp;
    auto ctx = client_context();
    auto status = crispd_->runtime().RunPodSandbox(ctx.get(), run, &pod_resp);
    EXPECT_TRUE(status.ok()) << status.error_message();

    v1::CreateContainerRequest create;
    create.set_pod_sandbox_id(pod_resp.pod_sandbox_id());
    *create.mutable_sandbox_config() = *pod;
    auto* c = create.mutable_config();
    c->mutable_metadata()->set_name("app");
    c->mutable_image()->set_image(image);
    c->add_command("sh");
    c->add_command("-c");
    c->add_command(script);
    c->set_log_path("app.log");
    v1::CreateContainerResponse created;
    ctx = client_context();
    status = crispd_->runtime().CreateContainer(ctx.get(), create, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    v1::StartContainerRequest start;
    start.set_container_id(created.container_id());
    v1::StartContainerResponse started;
    ctx = client_context();
    status = crispd_->runtime().StartContainer(ctx.get(), start, &started);
    EXPECT_TRUE(status.ok()) << status.error_message();
    *container_id = created.container_id();
    return crispd_->dir() + "/pod-logs/app.log";
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<CrispdFixture> crispd_;
  std::unique_ptr<CrispdFixture> second_;
};

bool wait_for_content(const std::string& path, const std::string& needle, std::chrono::seconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto content = read_file_if_exists(path);
    if (content && content->find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST_F(AdminTest, DockerSaveImportRunsAPodAndPinnedImagesSurvivePrune) {
  Image busybox = busybox_image(ManifestFormat::kDockerSchema2);
  std::string saved = write("busybox.tar.gz",
                            compress(docker_save_archive({{busybox, {"crisp-import/busybox:1"}}}), Compression::kGzip));
  CommandResult r = crisp({"images", "import", saved});
  ASSERT_EQ(r.exit_code, 0) << r.output << crispd_->log();
  EXPECT_EQ(r.output, busybox.config.digest + " " + kImportedTag + "\n");

  // Re-importing is idempotent and adds tags (from standard input this time).
  std::string retagged = write("retag.tar", docker_save_archive({{busybox, {"crisp-import/busybox:again"}}}));
  r = run_command({"sh", "-c", build_path("crisp") + " --socket " + crispd_->socket() + " images import - < " + retagged});
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // Two more images: one pinned (OCI layout), one imported with --no-pin.
  Image pinned = busybox_variant("pinned");
  std::string layout = write("pinned.tar", oci_layout_archive({{pinned.manifest, {"docker.io/crisp-import/pinned:1"}, ""}},
                                                              oci_layout_blobs(pinned)));
  r = crisp({"images", "import", layout});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Image loose = busybox_variant("loose");
  std::string loose_tar = write("loose.tar", docker_save_archive({{loose, {"crisp-import/loose:1"}}}));
  r = crisp({"images", "import", "--no-pin", loose_tar});
  ASSERT_EQ(r.exit_code, 0) << r.output;

  auto image = image_with_tag(*crispd_, kImportedTag);
  ASSERT_TRUE(image);
  EXPECT_TRUE(image->pinned());
  EXPECT_EQ(image->id(), busybox.config.digest);
  std::set<std::string> tags(image->repo_tags().begin(), image->repo_tags().end());
  EXPECT_TRUE(tags.count("docker.io/crisp-import/busybox:again"));
  auto pinned_image = image_with_tag(*crispd_, "docker.io/crisp-import/pinned:1");
  ASSERT_TRUE(pinned_image);
  EXPECT_TRUE(pinned_image->pinned());
  ASSERT_EQ(pinned_image->repo_digests_size(), 1);
  EXPECT_EQ(pinned_image->repo_digests(0), "docker.io/crisp-import/pinned@" + pinned.manifest.digest);
  auto loose_image = image_with_tag(*crispd_, "docker.io/crisp-import/loose:1");
  ASSERT_TRUE(loose_image);
  EXPECT_FALSE(loose_image->pinned());

  // A pod from the imported image, with no registry anywhere.
  std::string container;
  std::string log = run_container("crisp-import/busybox:1", "cat /etc/passwd | head -1; echo imported-ok; sleep 3600",
                                  &container);
  EXPECT_TRUE(wait_for_content(log, "imported-ok")) << read_file_if_exists(log).value_or("(no log)") << crispd_->log();
  v1::ExecSyncRequest exec;
  exec.set_container_id(container);
  exec.add_cmd("busybox");
  exec.add_cmd("echo");
  exec.add_cmd("exec-ok");
  exec.set_timeout(10);
  v1::ExecSyncResponse exec_resp;
  auto ctx = client_context();
  ASSERT_TRUE(crispd_->runtime().ExecSync(ctx.get(), exec, &exec_resp).ok());
  EXPECT_EQ(exec_resp.stdout(), "exec-ok\n");

  // crictl rmi --prune: the pinned image nobody uses survives, the unpinned one goes.
  crictl_rmi_prune();
  EXPECT_TRUE(image_with_tag(*crispd_, "docker.io/crisp-import/pinned:1"));
  EXPECT_FALSE(image_with_tag(*crispd_, "docker.io/crisp-import/loose:1"));
  EXPECT_TRUE(image_with_tag(*crispd_, kImportedTag));

  // RemoveImage of a pinned image says why it refuses.
  grpc::Status removed = remove_image("docker.io/crisp-import/pinned:1");
  EXPECT_EQ(removed.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(removed.error_message().find("crisp images unpin"), std::string::npos) << removed.error_message();

  // Unpinned, it can go.
  r = crisp({"images", "unpin", "crisp-import/pinned:1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, pinned.config.digest + " unpinned\n");
  auto after = image_with_tag(*crispd_, "docker.io/crisp-import/pinned:1");
  ASSERT_TRUE(after);
  EXPECT_FALSE(after->pinned());
  EXPECT_TRUE(remove_image("docker.io/crisp-import/pinned:1").ok());
  EXPECT_FALSE(image_with_tag(*crispd_, "docker.io/crisp-import/pinned:1"));

  // Pin survives a restart (it is in the record).
  r = crisp({"images", "pin", "crisp-import/busybox:again"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  crispd_->stop();
  crispd_->start();
  image = image_with_tag(*crispd_, kImportedTag);
  ASSERT_TRUE(image);
  EXPECT_TRUE(image->pinned());
  r = crisp({"images", "pin", "docker.io/library/absent:1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("crisp: image \"docker.io/library/absent:1\" not found"), std::string::npos) << r.output;
}

TEST_F(AdminTest, OciLayoutAllPlatformsExportReimportRoundTrip) {
  Image amd = busybox_variant("amd64");
  Image arm = busybox_variant("arm64", "arm64");
  Index index = build_index({amd, arm}, ManifestFormat::kOci);
  std::string layout = write("multi.tar", oci_layout_archive({{index.manifest, {"docker.io/crisp-import/multi:1"}, ""}},
                                                             oci_layout_blobs(index)));
  CommandResult r = crisp({"images", "import", "--all-platforms", layout});
  ASSERT_EQ(r.exit_code, 0) << r.output << crispd_->log();
  EXPECT_EQ(r.output, amd.config.digest + " docker.io/crisp-import/multi:1\n");
  // Every platform's blobs are kept, only the node's layers are unpacked.
  for (const auto& blob : {arm.manifest.digest, arm.config.digest, arm.layers[1].digest}) {
    EXPECT_TRUE(::access((crispd_->root() + "/content/sha256/" + blob.substr(7)).c_str(), F_OK) == 0) << blob;
  }
  auto image = image_with_tag(*crispd_, "docker.io/crisp-import/multi:1");
  ASSERT_TRUE(image);
  ASSERT_EQ(image->repo_digests_size(), 1);
  EXPECT_EQ(image->repo_digests(0), "docker.io/crisp-import/multi@" + index.manifest.digest);

  Image busybox = busybox_image(ManifestFormat::kDockerSchema2);
  std::string saved = write("busybox.tar", docker_save_archive({{busybox, {"crisp-import/busybox:1"}}}));
  ASSERT_EQ(crisp({"images", "import", saved}).exit_code, 0);

  std::string exported = dir_->path() + "/exported.tar";
  r = crisp({"images", "export", "crisp-import/multi:1", "crisp-import/busybox:1", "-o", exported});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Both readers' files: an OCI layout with the whole index, and docker's manifest.json.
  auto entries = read_tar(read_file(exported));
  std::set<std::string> names;
  for (const auto& e : entries) {
    names.insert(e.name);
    if (e.name == "manifest.json") {
      auto m = nlohmann::json::parse(e.content);
      ASSERT_EQ(m.size(), 2u);
      EXPECT_EQ(m[0]["RepoTags"], nlohmann::json({"crisp-import/multi:1"}));
      EXPECT_EQ(m[1]["RepoTags"], nlohmann::json({"crisp-import/busybox:1"}));
    }
    if (e.name == "index.json") {
      auto j = nlohmann::json::parse(e.content);
      ASSERT_EQ(j["manifests"].size(), 2u);
      EXPECT_EQ(j["manifests"][0]["digest"], index.manifest.digest);
      EXPECT_EQ(j["manifests"][0]["annotations"]["io.containerd.image.name"], "docker.io/crisp-import/multi:1");
    }
  }
  EXPECT_TRUE(names.count("oci-layout"));
  EXPECT_TRUE(names.count("blobs/sha256/" + arm.layers[1].digest.substr(7)));

  // Into a second crispd, from standard output through a pipe.
  second_ = std::make_unique<CrispdFixture>();
  r = run_command({"sh", "-c",
                   build_path("crisp") + " --socket " + crispd_->socket() + " images export crisp-import/busybox:1 -o - | " +
                       build_path("crisp") + " --socket " + second_->socket() + " images import --no-pin -"});
  ASSERT_EQ(r.exit_code, 0) << r.output << second_->log();
  EXPECT_EQ(r.output, busybox.config.digest + " " + kImportedTag + "\n");
  r = crisp(*second_, {"images", "import", exported});
  ASSERT_EQ(r.exit_code, 0) << r.output << second_->log();
  auto copy = image_with_tag(*second_, "docker.io/crisp-import/multi:1");
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->id(), amd.config.digest);
  // Without --all-platforms only the node's platform stays.
  for (const auto& blob : {arm.manifest.digest, arm.config.digest, arm.layers[1].digest}) {
    EXPECT_NE(::access((second_->root() + "/content/sha256/" + blob.substr(7)).c_str(), F_OK), 0) << blob;
  }
  EXPECT_EQ(::access((second_->root() + "/content/sha256/" + index.manifest.digest.substr(7)).c_str(), F_OK), 0);
  EXPECT_TRUE(copy->pinned());
  auto busybox_copy = image_with_tag(*second_, kImportedTag);
  ASSERT_TRUE(busybox_copy);
  EXPECT_TRUE(busybox_copy->pinned());  // the second import pins what --no-pin left unpinned

  r = crisp({"images", "export", "docker.io/library/absent:1", "-o", dir_->path() + "/absent.tar"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("not found"), std::string::npos) << r.output;
  EXPECT_NE(::access((dir_->path() + "/absent.tar").c_str(), F_OK), 0);  // no partial file
}

TEST_F(AdminTest, InfoGcConfigAndExitCodes) {
  Image busybox = busybox_image(ManifestFormat::kDockerSchema2);
  ASSERT_EQ(crisp({"images", "import", write("b.tar", docker_save_archive({{busybox, {"crisp-import/busybox:1"}}}))})
                .exit_code,
            0);
  std::string container;
  std::string log = run_container(kImportedTag, "echo running; sleep 3600", &container);
  ASSERT_TRUE(wait_for_content(log, "running"));

  CommandResult r = crisp({"info", "--json"}, false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto info = nlohmann::json::parse(r.output);
  EXPECT_FALSE(info["version"].get<std::string>().empty());
  EXPECT_EQ(info["socket"], crispd_->socket());
  EXPECT_EQ(info["root"], crispd_->root());
  EXPECT_EQ(info["state"], crispd_->state());
  EXPECT_EQ(info["pods"], 1);
  EXPECT_EQ(info["podsReady"], 1);
  EXPECT_EQ(info["containers"], 1);
  EXPECT_EQ(info["containersRunning"], 1);
  EXPECT_EQ(info["images"], 1);
  EXPECT_EQ(info["imagesPinned"], 1);
  EXPECT_GT(info["imageStore"]["usedBytes"].get<uint64_t>(), 500000u);
  EXPECT_EQ(info["networkMode"], "builtin");
  r = crisp({"info"}, false);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("images:           1 (1 pinned)"), std::string::npos) << r.output;

  // gc: a blob nobody needs goes (crispd collects at start and after every removal, so plant one).
  std::string stray = "0000000000000000000000000000000000000000000000000000000000000000";
  std::ofstream(crispd_->root() + "/content/sha256/" + stray) << "stray";
  r = crisp({"gc"}, false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("removed 1 blobs and 0 layer snapshots", 0), 0u) << r.output;
  EXPECT_NE(::access((crispd_->root() + "/content/sha256/" + stray).c_str(), F_OK), 0);

  // config dump is what crispd runs with; config default is crispd's.
  std::vector<std::string> dump_cmd = crispd_->command();
  dump_cmd.insert(dump_cmd.end(), {"config", "dump"});
  CommandResult expected = run_command(dump_cmd, "", false);
  ASSERT_EQ(expected.exit_code, 0);
  r = crisp({"config", "dump"}, false);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, expected.output);
  CommandResult defaults = run_command({build_path("crispd"), "config", "default"}, "", false);
  r = run_command({build_path("crisp"), "config", "default"}, "", false);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, defaults.output);

  r = run_command({build_path("crisp"), "--version"}, "", false);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output.rfind("crisp ", 0), 0u);
  EXPECT_EQ(run_command({build_path("crisp"), "images", "import"}).exit_code, 2);
  EXPECT_EQ(run_command({build_path("crisp"), "bogus"}).exit_code, 2);
  EXPECT_EQ(run_command({build_path("crisp")}).exit_code, 2);
  r = run_command({build_path("crisp"), "--socket", dir_->path() + "/absent.sock", "info"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output.rfind("crisp: cannot reach crispd at " + dir_->path() + "/absent.sock: ", 0), 0u) << r.output;
  r = run_command({"env", "CRISP_SOCKET=" + crispd_->socket(), build_path("crisp"), "info", "--json"}, "", false);
  EXPECT_EQ(r.exit_code, 0);
  r = crisp({"images", "import", dir_->path() + "/absent.tar"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("cannot open"), std::string::npos);
}

TEST_F(AdminTest, HostileArchivesFailCleanlyAndLeaveNothing) {
  Image busybox = busybox_image(ManifestFormat::kDockerSchema2);
  ASSERT_EQ(crisp({"images", "import", write("b.tar", docker_save_archive({{busybox, {"crisp-import/busybox:1"}}}))})
                .exit_code,
            0);
  const std::set<std::string> before = store_state(crispd_->root());
  const size_t images_before = list_images(*crispd_).size();

  Image fresh = busybox_variant("fresh");
  std::string good = oci_layout_archive({{fresh.manifest, {"docker.io/crisp-import/fresh:1"}, ""}}, oci_layout_blobs(fresh));
  auto tampered = [&](const std::function<void(std::vector<TarEntry>&)>& change) {
    auto entries = archive_entries(good);
    change(entries);
    return build_tar(entries);
  };
  std::string fresh_layer = "blobs/sha256/" + fresh.layers[1].digest.substr(7);
  std::string stored_layer = "blobs/sha256/" + busybox.layers[0].diff_id.substr(7);
  ASSERT_TRUE(before.count("content/sha256/" + busybox.layers[0].diff_id.substr(7)));

  struct Case {
    std::string name;
    std::string archive;
    std::string message;
  };
  std::vector<Case> cases = {
      {"traversal", tampered([](auto& e) { e.insert(e.begin(), file("../../etc/crisp-evil", "x")); }), "\"..\""},
      {"digest mismatch",
       tampered([&](auto& e) {
         for (auto& entry : e)
           if (entry.name == fresh_layer) entry.content[100] ^= 1;
       }),
       "does not match its digest"},
      {"digest mismatch of a stored blob",  // the docker save layer of the image imported above
       [&] {
         auto e = archive_entries(docker_save_archive({{busybox, {"crisp-import/other:1"}}}, DockerLayout::kBlobs));
         for (auto& entry : e)
           if (entry.name == stored_layer) entry.content[100] ^= 1;
         return build_tar(e);
       }(),
       "does not match its digest"},
      {"missing blob",
       tampered([&](auto& e) {
         e.erase(std::remove_if(e.begin(), e.end(), [&](const TarEntry& x) { return x.name == fresh_layer; }), e.end());
       }),
       "missing from the archive"},
      {"bad json", tampered([](auto& e) {
         for (auto& entry : e)
           if (entry.name == "index.json") entry.content = "{\"manifests\": [}";
       }),
       "not valid JSON"},
      {"truncated", good.substr(0, good.size() / 2), "image archive"},
      {"not a tar", std::string(100000, 'z'), "image archive"},
  };
  // A layer whose tar escapes its root: refused by the layer unpacker, nothing committed.
  {
    Layer evil = make_layer({file("../../outside", "x")});
    ImageConfig config;
    config.cmd = std::vector<std::string>{"sh"};
    Image bad = build_image(config, {busybox_layer(), evil}, ManifestFormat::kOci);
    cases.push_back({"hostile layer",
                     oci_layout_archive({{bad.manifest, {"docker.io/crisp-import/bad:1"}, ""}}, oci_layout_blobs(bad)),
                     ".."});
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string path = write("hostile.tar", c.archive);
    CommandResult r = crisp({"images", "import", path});
    std::printf("%-32s -> exit %d: %s", c.name.c_str(), r.exit_code, r.output.c_str());
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(r.output.rfind("crisp: ", 0), 0u) << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
    EXPECT_EQ(store_state(crispd_->root()), before);
    EXPECT_EQ(list_images(*crispd_).size(), images_before);
  }
  // And the store still works: the untampered archive imports.
  CommandResult r = crisp({"images", "import", write("good.tar", good)});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(::access("/etc/crisp-evil", F_OK) != 0);
}

}  // namespace
}  // namespace crisp::test
