// The user namespace parts of the bundle spec: "namespace user join <path>" and the "idmap" mount
// option survive encoding and parsing; a new user namespace is refused on both sides.
#include <sys/mount.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/base/error.h"
#include "runtime/monitor/spec.h"
#include "runtime/monitor/spec_parse.h"

namespace crisp::monitor {
namespace {

BundleSpec minimal_spec() {
  BundleSpec s;
  s.process.args = {"sh"};
  s.rootfs = "/run/crisp/containers/x/rootfs";
  return s;
}

bool parse_text(std::string text, ParsedSpec* out, std::string* error) {
  static std::vector<std::vector<char>> buffers;  // the parse result points into its buffer
  buffers.emplace_back(text.begin(), text.end());
  buffers.back().push_back('\0');
  char err[512] = {};
  bool ok = parse_spec(buffers.back().data(), text.size(), false, out, err, sizeof(err));
  *error = err;
  return ok;
}

TEST(SpecUserNamespace, JoinAndIdmapRoundTrip) {
  BundleSpec s = minimal_spec();
  s.user = {NamespaceMode::kJoin, "/run/crisp/sandboxes/p/ns/user"};
  s.mounts = {{"/etc/hosts", "bind", "/run/crisp/sandboxes/p/hosts", {"rbind", "rprivate", "idmap"}, ""},
              {"/data", "bind", "/srv/data", {"rbind", "ro"}, ""}};
  std::string text = encode_bundle_spec(s);
  EXPECT_NE(text.find("namespace user join /run/crisp/sandboxes/p/ns/user\n"), std::string::npos) << text;
  ParsedSpec p;
  std::string error;
  ASSERT_TRUE(parse_text(text, &p, &error)) << error;
  EXPECT_EQ(p.user.mode, kNsJoin);
  EXPECT_STREQ(p.user.path, "/run/crisp/sandboxes/p/ns/user");
  ASSERT_EQ(p.mount_count, 2u);
  EXPECT_TRUE(p.mounts[0].idmap);
  EXPECT_EQ(p.mounts[0].data, nullptr) << "idmap is a known option, not filesystem data";
  EXPECT_TRUE(p.mounts[0].flags & MS_BIND);
  EXPECT_FALSE(p.mounts[1].idmap);
}

TEST(SpecUserNamespace, HostIsNotWritten) {
  std::string text = encode_bundle_spec(minimal_spec());
  EXPECT_EQ(text.find("namespace user"), std::string::npos);
  ParsedSpec p;
  std::string error;
  ASSERT_TRUE(parse_text(text, &p, &error)) << error;
  EXPECT_EQ(p.user.mode, kNsHost);
}

TEST(SpecUserNamespace, NewIsRefused) {
  BundleSpec s = minimal_spec();
  s.user = {NamespaceMode::kNew, ""};
  EXPECT_THROW(encode_bundle_spec(s), Error);
  std::string text = encode_bundle_spec(minimal_spec());
  text.insert(text.find("end\n"), "namespace user new\n");
  ParsedSpec p;
  std::string error;
  EXPECT_FALSE(parse_text(text, &p, &error));
  EXPECT_NE(error.find("namespace mode"), std::string::npos) << error;
}

}  // namespace
}  // namespace crisp::monitor
