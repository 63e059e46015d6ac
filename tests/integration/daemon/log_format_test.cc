// --log-format json: every line crispd writes to stderr is one JSON object with time, level and
// msg, and the ids of the CRI call being served ride along as fields.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/crispd_fixture.h"

namespace crisp::test {
namespace {

// CrispdOptions from its three fields (designated initializers trip -Wmissing-field-initializers).
CrispdOptions crispd_options(std::vector<std::string> args, std::string config_toml, bool start) {
  CrispdOptions options;
  options.args = std::move(args);
  options.config_toml = std::move(config_toml);
  options.start = start;
  return options;
}

namespace v1 = ::runtime::v1;

TEST(LogFormatTest, JsonLinesCarryTheContainerId) {
  const std::string id = "c0ffee00c0ffee00c0ffee00c0ffee00";
  std::string log;
  {
    CrispdFixture crispd(crispd_options({"--log-format", "json"}, "", true));  // at debug level
    v1::ContainerStatusRequest req;
    req.set_container_id(id);
    v1::ContainerStatusResponse resp;
    auto ctx = client_context();
    EXPECT_EQ(crispd.runtime().ContainerStatus(ctx.get(), req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(crispd.stop(), 0);
    log = crispd.log();
  }
  ASSERT_FALSE(log.empty());
  std::istringstream lines(log);
  std::string line;
  int parsed = 0;
  bool found = false;
  while (std::getline(lines, line)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON: " << line;
      continue;
    }
    ++parsed;
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_TRUE(j.contains("time") && j["time"].is_string()) << line;
    EXPECT_TRUE(j.contains("level") && j["level"].is_string()) << line;
    EXPECT_TRUE(j.contains("msg") && j["msg"].is_string()) << line;
    if (j.value("container_id", "") == id && j["msg"].get<std::string>().find("ContainerStatus") != std::string::npos) {
      found = true;
      EXPECT_EQ(j["level"], "debug") << line;
    }
  }
  EXPECT_GT(parsed, 3);
  EXPECT_TRUE(found) << "no line with container_id " << id << ":\n" << log;
  EXPECT_NE(log.find("\"msg\":\"crispd stopped\""), std::string::npos) << log;
}

}  // namespace
}  // namespace crisp::test
