// The documents generated from config.cc's option table stay in step with it: README.md's
// configuration reference (`crispd config reference`) and manifests/crisp.toml (`crispd config
// default`). When one fails, regenerate:
//   crispd config reference   -> README.md between <!-- config-reference:begin/end -->
//   crispd config default > manifests/crisp.toml
#include <gtest/gtest.h>

#include <cstdlib>

#include "cri/daemon/config.h"
#include "runtime/base/file_util.h"

namespace crisp::cri {
namespace {

std::string source_path(const std::string& relative) {
  const char* dir = std::getenv("CRISP_SOURCE_DIR");
  return std::string(dir ? dir : ".") + "/" + relative;
}

TEST(ConfigDocsTest, ReadmeReferenceMatchesTheOptionTable) {
  std::string readme = read_file(source_path("README.md"));
  const std::string begin = "<!-- config-reference:begin -->\n";
  const std::string end = "<!-- config-reference:end -->";
  size_t b = readme.find(begin);
  ASSERT_NE(b, std::string::npos) << "README.md lacks " << begin;
  size_t e = readme.find(end, b);
  ASSERT_NE(e, std::string::npos) << "README.md lacks " << end;
  std::string block = readme.substr(b + begin.size(), e - b - begin.size());
  EXPECT_EQ(block, config_reference_markdown())
      << "README.md's configuration reference is stale: put `crispd config reference` between the markers";
}

TEST(ConfigDocsTest, ManifestIsTheDefaultConfig) {
  EXPECT_EQ(read_file(source_path("manifests/crisp.toml")), default_config_toml())
      << "manifests/crisp.toml is stale: crispd config default > manifests/crisp.toml";
}

}  // namespace
}  // namespace crisp::cri
