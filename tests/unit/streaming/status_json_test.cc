#include "cri/streaming/status_json.h"

#include <gtest/gtest.h>

namespace crisp::streaming {
namespace {

TEST(StatusJson, Success) {
  EXPECT_EQ(status_json({0, ""}, {"true"}), R"({"metadata":{},"status":"Success"})");
  EXPECT_EQ(status_text({0, ""}, {"true"}), "");
}

TEST(StatusJson, NonZeroExitCode) {
  EXPECT_EQ(status_json({3, ""}, {"sh", "-c", "exit 3"}),
            R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: )"
            R"(error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode",)"
            R"("details":{"causes":[{"reason":"ExitCode","message":"3"}]}})");
  EXPECT_EQ(status_text({3, ""}, {"false"}),
            "command terminated with non-zero exit code: error executing command [false], exit code 3");
}

TEST(StatusJson, InternalError) {
  std::string json = status_json({0, "container c is not running"}, {"sh"});
  EXPECT_NE(json.find(R"("status":"Failure")"), std::string::npos);
  EXPECT_NE(json.find(R"("reason":"InternalError")"), std::string::npos);
  EXPECT_NE(json.find(R"("code":500)"), std::string::npos);
}

}  // namespace
}  // namespace crisp::streaming
