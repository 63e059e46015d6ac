// image/archive: reading docker save and OCI image-layout tars into an in-memory blob store,
// planning their images, refusing hostile archives, and writing archives that read back.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "image/archive/image_archive.h"
#include "image/digest.h"
#include "runtime/base/error.h"
#include "tests/support/image_archives.h"
#include "tests/support/oci_builder.h"

namespace crisp::image::archive {
namespace {

namespace t = crisp::test;

// Blobs in memory, checked like the content store checks them.
class MemoryStore : public BlobSink, public BlobSource {
 public:
  void put(const std::string& digest, uint64_t size, const ByteReader& data) override {
    std::string bytes = drain(data);
    if (bytes.size() != size || crisp::image::sha256_digest(bytes) != digest) {
      throw Error(ErrorKind::kInvalidArgument, "blob " + digest + " does not match its digest");
    }
    blobs[digest] = bytes;
  }
  std::string put_unnamed(uint64_t size, const ByteReader& data) override {
    std::string bytes = drain(data);
    EXPECT_EQ(bytes.size(), size);
    std::string digest = crisp::image::sha256_digest(bytes);
    blobs[digest] = bytes;
    return digest;
  }
  std::optional<uint64_t> size(const std::string& digest) override {
    auto it = blobs.find(digest);
    if (it == blobs.end()) return std::nullopt;
    return it->second.size();
  }
  ByteReader open(const std::string& digest) override {
    auto bytes = std::make_shared<std::string>(blobs.at(digest));
    auto offset = std::make_shared<size_t>(0);
    return [bytes, offset](char* buf, size_t cap) -> size_t {
      size_t n = std::min(cap, bytes->size() - *offset);
      std::memcpy(buf, bytes->data() + *offset, n);
      *offset += n;
      return n;
    };
  }

  std::map<std::string, std::string> blobs;

 private:
  static std::string drain(const ByteReader& data) {
    std::string out;
    char buf[4096];
    while (size_t n = data(buf, sizeof(buf))) out.append(buf, n);
    return out;
  }
};

ByteReader string_reader(const std::string& bytes, size_t chunk = 7777) {
  auto offset = std::make_shared<size_t>(0);
  return [&bytes, offset, chunk](char* buf, size_t cap) -> size_t {
    size_t n = std::min({cap, chunk, bytes.size() - *offset});
    std::memcpy(buf, bytes.data() + *offset, n);
    *offset += n;
    return n;
  };
}

PlanOptions amd64(bool all_platforms = false) {
  PlanOptions o;
  o.platform = Platform{"linux", "amd64", ""};
  o.all_platforms = all_platforms;
  return o;
}

std::vector<PlannedImage> import(const std::string& tar, MemoryStore& store, const PlanOptions& options = amd64()) {
  ArchiveContents contents = read_archive(string_reader(tar), store);
  return plan_import(contents, store, options);
}

// A small image: two layers, a config with a command.
t::Image small_image(t::ManifestFormat format, const std::string& marker = "one",
                     const std::string& arch = "amd64") {
  t::Layer base = t::make_layer({t::dir("bin"), t::file("bin/hello", "hello " + marker + "\n", 0755)});
  t::Layer top = t::make_layer({t::dir("etc"), t::file("etc/marker", marker + "\n")});
  t::ImageConfig config;
  config.platform.architecture = arch;
  if (arch == "arm64") config.platform.variant = "v8";
  config.cmd = std::vector<std::string>{"/bin/hello"};
  return t::build_image(config, {base, top}, format);
}

template <typename F>
std::string error_of(F&& f, ErrorKind expected = ErrorKind::kInvalidArgument) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), expected) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(ImageArchive, CleanEntryPath) {
  EXPECT_EQ(clean_entry_path("./a//b/"), "a/b");
  EXPECT_EQ(clean_entry_path("manifest.json"), "manifest.json");
  EXPECT_EQ(clean_entry_path("./"), "");
  for (const char* bad : {"../x", "a/../../b", "a/..", "/etc/passwd", ""}) {
    EXPECT_NE(error_of([&] { clean_entry_path(bad); }).find("image archive"), std::string::npos) << bad;
  }
}

TEST(ImageArchive, NamesAndTags) {
  EXPECT_EQ(normalize_tag("busybox:1"), "docker.io/library/busybox:1");
  EXPECT_EQ(normalize_tag("busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(normalize_tag("127.0.0.1:5000/a/b:v1"), "127.0.0.1:5000/a/b:v1");
  error_of([] { normalize_tag("UPPER:case"); });
  EXPECT_EQ(familiar_name("docker.io/library/busybox:1"), "busybox:1");
  EXPECT_EQ(familiar_name("docker.io/a/b:1"), "a/b:1");
  EXPECT_EQ(familiar_name("quay.io/a/b:1"), "quay.io/a/b:1");
  EXPECT_EQ(image_name_from_annotations({{annotations::kContainerdImageName, "docker.io/library/x:1"},
                                         {annotations::kOciRefName, "1"}}),
            "docker.io/library/x:1");
  EXPECT_EQ(image_name_from_annotations({{annotations::kOciRefName, "quay.io/a/b:2"}}), "quay.io/a/b:2");
  EXPECT_EQ(image_name_from_annotations({{annotations::kOciRefName, "latest"}}), "");
  EXPECT_EQ(image_name_from_annotations({}), "");
}

TEST(ImageArchive, DockerSaveLegacyLayout) {
  t::Image image = small_image(t::ManifestFormat::kDockerSchema2);
  std::string tar = t::docker_save_archive({{image, {"busybox:1", "quay.io/x/y:2"}}});
  MemoryStore store;
  auto images = import(t::compress(tar, t::Compression::kGzip), store);
  ASSERT_EQ(images.size(), 1u);
  const PlannedImage& p = images[0];
  EXPECT_EQ(p.id, image.config.digest);
  EXPECT_EQ(p.repo_tags, (std::vector<std::string>{"docker.io/library/busybox:1", "quay.io/x/y:2"}));
  EXPECT_TRUE(p.repo_digests.empty());
  EXPECT_EQ(p.config.diff_ids.size(), 2u);
  ASSERT_EQ(p.manifest.layers.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    // docker save layers are the uncompressed tars: their digest is the diffID.
    EXPECT_EQ(p.manifest.layers[i].digest, image.layers[i].diff_id);
    EXPECT_EQ(p.manifest.layers[i].media_type, "application/vnd.docker.image.rootfs.diff.tar");
    EXPECT_TRUE(store.blobs.count(p.manifest.layers[i].digest));
  }
  EXPECT_EQ(p.media_type, media_types::kDockerManifest);
  EXPECT_EQ(p.manifest_digest, crisp::image::sha256_digest(p.manifest_bytes));
  // The config came as <hex>.json and the manifest is made up: both must be added to the store.
  EXPECT_TRUE(p.new_blobs.count(p.id));
  EXPECT_TRUE(p.new_blobs.count(p.manifest_digest));
  for (const auto& b : p.blobs) EXPECT_TRUE(store.blobs.count(b) || p.new_blobs.count(b)) << b;
}

TEST(ImageArchive, DockerSaveBlobsLayoutUsesIndexNamesAndManifestTags) {
  t::Image image = small_image(t::ManifestFormat::kDockerSchema2);
  std::string tar = t::docker_save_archive({{image, {"busybox:1"}}}, t::DockerLayout::kBlobs);
  MemoryStore store;
  auto images = import(tar, store);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].id, image.config.digest);
  EXPECT_EQ(images[0].repo_tags, std::vector<std::string>{"docker.io/library/busybox:1"});
  ASSERT_EQ(images[0].repo_digests.size(), 1u);
  EXPECT_EQ(images[0].repo_digests[0], "docker.io/library/busybox@" + images[0].manifest_digest);
  EXPECT_TRUE(images[0].new_blobs.empty());
}

TEST(ImageArchive, SymlinkedLayersOfDockerSave) {
  t::Image image = small_image(t::ManifestFormat::kDockerSchema2);
  std::string tar = t::docker_save_archive({{image, {"a:1"}}});
  // Point manifest.json's second layer at a symlink to the real file, as docker does for duplicates.
  auto entries = t::archive_entries(tar);
  std::string second;
  for (auto& e : entries) {
    if (e.name != "manifest.json") continue;
    auto m = nlohmann::json::parse(e.content);
    second = m[0]["Layers"][1].get<std::string>();
    m[0]["Layers"][1] = "alias/layer.tar";
    e.content = m.dump();
  }
  entries.push_back(t::dir("alias"));
  entries.push_back(t::symlink("alias/layer.tar", "../" + second));
  MemoryStore store;
  auto images = import(t::build_tar(entries), store);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].manifest.layers[1].digest, image.layers[1].diff_id);
}

TEST(ImageArchive, OciLayoutWithIndexPicksThePlatformOrKeepsAll) {
  t::Image amd = small_image(t::ManifestFormat::kOci, "amd", "amd64");
  t::Image arm = small_image(t::ManifestFormat::kOci, "arm", "arm64");
  t::Index index = t::build_index({amd, arm}, t::ManifestFormat::kOci);
  std::string tar = t::oci_layout_archive({{index.manifest, {"docker.io/library/multi:1"}, ""}}, t::oci_layout_blobs(index));

  MemoryStore store;
  auto images = import(tar, store);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].id, amd.config.digest);
  EXPECT_EQ(images[0].manifest_digest, amd.manifest.digest);
  EXPECT_EQ(images[0].repo_tags, std::vector<std::string>{"docker.io/library/multi:1"});
  EXPECT_EQ(images[0].repo_digests, std::vector<std::string>{"docker.io/library/multi@" + index.manifest.digest});
  auto has = [&](const std::string& d) {
    return std::find(images[0].blobs.begin(), images[0].blobs.end(), d) != images[0].blobs.end();
  };
  EXPECT_TRUE(has(index.manifest.digest));
  EXPECT_TRUE(has(amd.layers[0].digest));
  EXPECT_FALSE(has(arm.manifest.digest));
  EXPECT_FALSE(has(arm.layers[0].digest));

  MemoryStore all_store;
  images = import(tar, all_store, amd64(true));
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].id, amd.config.digest);
  EXPECT_TRUE(has(arm.manifest.digest));
  EXPECT_TRUE(has(arm.config.digest));
  EXPECT_TRUE(has(arm.layers[1].digest));

  PlanOptions arm64 = amd64();
  arm64.platform = Platform{"linux", "arm64", "v8"};
  MemoryStore arm_store;
  images = import(tar, arm_store, arm64);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].id, arm.config.digest);

  PlanOptions s390 = amd64();
  s390.platform = Platform{"linux", "s390x", ""};
  MemoryStore none;
  error_of([&] { import(tar, none, s390); }, ErrorKind::kNotFound);
}

TEST(ImageArchive, NestedIndexAndUnnamedImages) {
  t::Image amd = small_image(t::ManifestFormat::kOci);
  t::Index inner = t::build_index({amd}, t::ManifestFormat::kOci);
  // An outer index listing the inner one without a platform.
  nlohmann::json outer = {{"schemaVersion", 2},
                          {"mediaType", t::media_type::kOciIndex},
                          {"manifests",
                           {{{"mediaType", t::media_type::kOciIndex},
                             {"digest", inner.manifest.digest},
                             {"size", inner.manifest.bytes.size()}}}}};
  t::Blob outer_blob{outer.dump(), t::sha256_digest(outer.dump()), t::media_type::kOciIndex};
  auto blobs = t::oci_layout_blobs(inner);
  blobs[outer_blob.digest] = outer_blob.bytes;
  std::string tar = t::oci_layout_archive({{outer_blob, {}, "latest"}}, blobs);
  MemoryStore store;
  auto images = import(tar, store);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].id, amd.config.digest);
  EXPECT_TRUE(images[0].repo_tags.empty());  // a bare ref.name tag names no repository
  EXPECT_TRUE(images[0].repo_digests.empty());
}

TEST(ImageArchive, SameImageTwiceIsMerged) {
  t::Image image = small_image(t::ManifestFormat::kOci);
  std::string tar = t::oci_layout_archive(
      {{image.manifest, {"docker.io/library/a:1", "quay.io/b/c:2"}, ""}}, t::oci_layout_blobs(image));
  MemoryStore store;
  auto images = import(tar, store);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].repo_tags, (std::vector<std::string>{"docker.io/library/a:1", "quay.io/b/c:2"}));
  EXPECT_EQ(images[0].repo_digests.size(), 2u);
}

TEST(ImageArchive, HostileArchivesAreRefused) {
  t::Image image = small_image(t::ManifestFormat::kOci);
  auto blobs = t::oci_layout_blobs(image);
  std::string good = t::oci_layout_archive({{image.manifest, {"docker.io/library/a:1"}, ""}}, blobs);

  // Path traversal.
  auto entries = t::archive_entries(good);
  entries.push_back(t::file("../escape", "x"));
  MemoryStore s1;
  EXPECT_NE(error_of([&] { import(t::build_tar(entries), s1); }).find("\"..\""), std::string::npos);
  entries = t::archive_entries(good);
  entries.push_back(t::file("/etc/evil", "x"));
  MemoryStore s1b;
  EXPECT_NE(error_of([&] { import(t::build_tar(entries), s1b); }).find("absolute"), std::string::npos);
  entries = t::archive_entries(good);
  entries.push_back(t::symlink("blobs/sha256/link", "../../../etc/passwd"));
  MemoryStore s1c;
  EXPECT_NE(error_of([&] { import(t::build_tar(entries), s1c); }).find("outside"), std::string::npos);

  // A missing layer.
  auto missing = blobs;
  missing.erase(image.layers[1].digest);
  MemoryStore s2;
  std::string message =
      error_of([&] { import(t::oci_layout_archive({{image.manifest, {"docker.io/library/a:1"}, ""}}, missing), s2); });
  EXPECT_NE(message.find("missing"), std::string::npos) << message;
  EXPECT_NE(message.find(image.layers[1].digest), std::string::npos) << message;

  // Digest mismatch (the in-memory sink checks like the content store does).
  entries = t::archive_entries(good);
  for (auto& e : entries) {
    if (e.name == "blobs/sha256/" + image.layers[0].digest.substr(7)) e.content[e.content.size() / 2] ^= 1;
  }
  MemoryStore s3;
  EXPECT_NE(error_of([&] { import(t::build_tar(entries), s3); }).find("digest"), std::string::npos);

  // Bad JSON.
  entries = t::archive_entries(good);
  for (auto& e : entries) {
    if (e.name == "index.json") e.content = "{\"manifests\": [";
  }
  MemoryStore s4;
  EXPECT_NE(error_of([&] { import(t::build_tar(entries), s4); }).find("JSON"), std::string::npos);

  // Absurd descriptor size.
  entries = t::archive_entries(good);
  for (auto& e : entries) {
    if (e.name != "index.json") continue;
    auto j = nlohmann::json::parse(e.content);
    j["manifests"][0]["size"] = uint64_t{1} << 60;
    e.content = j.dump();
  }
  MemoryStore s5;
  error_of([&] { import(t::build_tar(entries), s5); });

  // Truncated stream.
  MemoryStore s6;
  EXPECT_NE(error_of([&] { import(good.substr(0, good.size() / 2 + 100), s6); }).find("image archive"),
            std::string::npos);

  // Not an image archive at all.
  MemoryStore s7;
  error_of([&] { import(t::build_tar({t::file("hello.txt", "hi")}), s7); });
  MemoryStore s8;
  error_of([&] { import(std::string(5000, 'x'), s8); });

  // Unsupported digest algorithm.
  entries = t::archive_entries(good);
  entries.push_back(t::file("blobs/sha512/abcd", "x"));
  MemoryStore s9;
  EXPECT_NE(error_of([&] { import(t::build_tar(entries), s9); }).find("sha256 only"), std::string::npos);
}

TEST(ImageArchive, WrittenArchivesReadBack) {
  t::Image image = small_image(t::ManifestFormat::kDockerSchema2);
  MemoryStore source;
  source.blobs = t::oci_layout_blobs(image);
  ExportImage e;
  e.names = {"docker.io/library/busybox:1", "quay.io/a/b:2"};
  e.top.media_type = image.manifest.media_type;
  e.top.digest = image.manifest.digest;
  e.top.size = image.manifest.bytes.size();
  e.config_digest = image.config.digest;
  for (const auto& l : image.layers) e.layer_digests.push_back(l.digest);
  e.blobs = {image.manifest.digest, image.config.digest};
  for (const auto& l : image.layers) e.blobs.push_back(l.digest);
  std::string tar;
  write_archive({e}, source, [&](const char* data, size_t n) { tar.append(data, n); });

  // docker load reads manifest.json: familiar tags, blobs by path.
  bool saw_manifest = false, saw_layout = false;
  for (const auto& entry : t::read_tar(tar)) {
    if (entry.name == "oci-layout") saw_layout = true;
    if (entry.name != "manifest.json") continue;
    saw_manifest = true;
    auto m = nlohmann::json::parse(entry.content);
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0]["RepoTags"], nlohmann::json({"busybox:1", "quay.io/a/b:2"}));
    EXPECT_EQ(m[0]["Config"], "blobs/sha256/" + image.config.digest.substr(7));
    EXPECT_EQ(m[0]["Layers"].size(), 2u);
  }
  EXPECT_TRUE(saw_manifest);
  EXPECT_TRUE(saw_layout);

  MemoryStore store;
  auto images = import(tar, store);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].id, image.config.digest);
  EXPECT_EQ(images[0].manifest_digest, image.manifest.digest);
  EXPECT_EQ(images[0].repo_tags, (std::vector<std::string>{"docker.io/library/busybox:1", "quay.io/a/b:2"}));
  EXPECT_EQ(images[0].repo_digests,
            (std::vector<std::string>{"docker.io/library/busybox@" + image.manifest.digest,
                                      "quay.io/a/b@" + image.manifest.digest}));
}

}  // namespace
}  // namespace crisp::image::archive
