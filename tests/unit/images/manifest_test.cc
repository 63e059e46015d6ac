#include "image/manifest.h"

#include <gtest/gtest.h>

#include "runtime/base/error.h"

namespace crisp::image {
namespace {

const std::string kD1 = "sha256:" + std::string(64, '1');
const std::string kD2 = "sha256:" + std::string(64, '2');
const std::string kD3 = "sha256:" + std::string(64, '3');

std::string index_json(const std::string& media_type) {
  return R"({"schemaVersion":2,"mediaType":")" + media_type + R"(","manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kD1 + R"(","size":10,
     "platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kD2 + R"(","size":11,
     "platform":{"os":"linux","architecture":"amd64"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kD3 + R"(","size":12,
     "platform":{"os":"unknown","architecture":"unknown"}}]})";
}

TEST(Manifest, ParsesAManifest) {
  std::string m = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
    "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":")" + kD1 + R"(","size":100},
    "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":")" + kD2 + R"(","size":200}]})";
  EXPECT_EQ(document_kind(m, ""), DocumentKind::kManifest);
  Manifest parsed = parse_manifest(m);
  EXPECT_EQ(parsed.config.digest, kD1);
  EXPECT_EQ(parsed.config.size, 100u);
  ASSERT_EQ(parsed.layers.size(), 1u);
  EXPECT_EQ(parsed.layers[0].digest, kD2);
  EXPECT_TRUE(is_supported_layer_type(parsed.layers[0].media_type));
  EXPECT_FALSE(is_supported_layer_type("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"));
}

TEST(Manifest, KindFromContentTypeOrShape) {
  std::string no_type = R"({"schemaVersion":2,"manifests":[]})";
  EXPECT_EQ(document_kind(no_type, ""), DocumentKind::kIndex);
  EXPECT_EQ(document_kind(R"({"schemaVersion":2,"config":{},"layers":[]})",
                          "application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
            DocumentKind::kManifest);
  EXPECT_THROW(document_kind(R"({"schemaVersion":1,"fsLayers":[]})", ""), Error);
  EXPECT_THROW(document_kind("not json", ""), Error);
}

TEST(Manifest, ChoosesThePlatform) {
  for (const char* type : {"application/vnd.oci.image.index.v1+json",
                           "application/vnd.docker.distribution.manifest.list.v2+json"}) {
    std::string idx = index_json(type);
    EXPECT_EQ(document_kind(idx, ""), DocumentKind::kIndex);
    Index index = parse_index(idx);
    ASSERT_EQ(index.manifests.size(), 3u);
    EXPECT_EQ(choose_platform(index, {"linux", "amd64", ""}).digest, kD2);
    EXPECT_EQ(choose_platform(index, {"linux", "x86_64", ""}).digest, kD2);
    EXPECT_EQ(choose_platform(index, {"linux", "arm64", "v8"}).digest, kD1);
    EXPECT_EQ(choose_platform(index, {"linux", "aarch64", ""}).digest, kD1);
    try {
      choose_platform(index, {"linux", "s390x", ""});
      FAIL() << "expected kNotFound";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
      EXPECT_NE(std::string(e.what()).find("linux/amd64"), std::string::npos) << e.what();
    }
  }
}

TEST(Manifest, VariantAware) {
  std::string idx = R"({"manifests":[
    {"digest":")" + kD1 + R"(","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v6"}},
    {"digest":")" + kD2 + R"(","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v7"}}]})";
  Index index = parse_index(idx);
  EXPECT_EQ(choose_platform(index, {"linux", "arm", "v7"}).digest, kD2);
  EXPECT_EQ(choose_platform(index, {"linux", "arm", "v6"}).digest, kD1);
}

TEST(Manifest, HostPlatformIsNormalised) {
  Platform p = host_platform();
  EXPECT_EQ(p.os, "linux");
  EXPECT_NE(p.architecture, "x86_64");
  EXPECT_NE(p.architecture, "aarch64");
}

TEST(Manifest, RefusesBadDescriptors) {
  EXPECT_THROW(parse_manifest(R"({"config":{"digest":"sha256:xyz","size":1},"layers":[]})"), Error);
  EXPECT_THROW(parse_manifest(R"({"config":{"digest":")" + kD1 + R"(","size":-1},"layers":[]})"), Error);
  EXPECT_THROW(parse_manifest(R"({"layers":[]})"), Error);
}

TEST(Manifest, ParsesAConfig) {
  std::string c = R"({"architecture":"amd64","os":"linux","config":{"User":"1000:1000","Env":["A=b"],
    "Entrypoint":["/bin/sh","-c"],"Cmd":["x"],"WorkingDir":"/w","StopSignal":"SIGUSR1",
    "Labels":{"k":"v"},"ExposedPorts":{"8080/tcp":{}},"Volumes":{"/data":{}}},
    "rootfs":{"type":"layers","diff_ids":[")" + kD1 + R"("]}})";
  ParsedConfig p = parse_image_config(c);
  EXPECT_EQ(p.config.user, "1000:1000");
  EXPECT_EQ(p.config.env, std::vector<std::string>{"A=b"});
  EXPECT_EQ(p.config.entrypoint.size(), 2u);
  EXPECT_EQ(p.config.cmd, std::vector<std::string>{"x"});
  EXPECT_EQ(p.config.working_dir, "/w");
  EXPECT_EQ(p.config.stop_signal, "SIGUSR1");
  EXPECT_EQ(p.config.labels.at("k"), "v");
  EXPECT_EQ(p.config.exposed_ports, std::vector<std::string>{"8080/tcp"});
  EXPECT_EQ(p.config.volumes, std::vector<std::string>{"/data"});
  EXPECT_EQ(p.diff_ids, std::vector<std::string>{kD1});
  EXPECT_THROW(parse_image_config(R"({"config":{}})"), Error);
}

}  // namespace
}  // namespace crisp::image
