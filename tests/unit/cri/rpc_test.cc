#include "cri/rpc.h"

#include <gtest/gtest.h>

#include "cri/proto/cri_api.h"

namespace crisp::cri {
namespace {

TEST(RpcTest, ErrorKindsMapToGrpcCodes) {
  EXPECT_EQ(to_grpc_code(ErrorKind::kNotFound), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(to_grpc_code(ErrorKind::kInvalidArgument), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(to_grpc_code(ErrorKind::kAlreadyExists), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(to_grpc_code(ErrorKind::kFailedPrecondition), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(to_grpc_code(ErrorKind::kDeadlineExceeded), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(to_grpc_code(ErrorKind::kUnavailable), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(to_grpc_code(ErrorKind::kInternal), grpc::StatusCode::INTERNAL);
}

TEST(RpcTest, BodyOutcomeBecomesStatus) {
  EXPECT_TRUE(rpc("Ok", [] {}).ok());
  grpc::Status s = rpc("NotFound", [] { throw Error(ErrorKind::kNotFound, "container abc not found"); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "container abc not found");
  s = rpc("Std", [] { throw std::runtime_error("boom"); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(s.error_message(), "boom");
}

TEST(RpcTest, UnimplementedNamesTheRpc) {
  grpc::Status s = unimplemented("Attach");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(s.error_message().find("Attach"), std::string::npos);
}

TEST(RpcTest, RequestIdsBecomeLogFieldsForTheBody) {
  ::runtime::v1::CreateContainerRequest create;
  create.set_pod_sandbox_id("pod1");
  create.mutable_config()->mutable_metadata()->set_name("web");
  EXPECT_EQ(log_fields_of(create), (LogFields{{"pod_id", "pod1"}, {"container", "web"}}));

  ::runtime::v1::RunPodSandboxRequest run;
  run.mutable_config()->mutable_metadata()->set_name("nginx");
  run.mutable_config()->mutable_metadata()->set_namespace_("default");
  EXPECT_EQ(log_fields_of(run), (LogFields{{"pod", "default/nginx"}}));

  ::runtime::v1::StopContainerRequest stop;
  stop.set_container_id("c1");
  LogFields seen;
  EXPECT_TRUE(rpc("StopContainer", stop, [&] { seen = current_log_fields(); }).ok());
  EXPECT_EQ(seen, (LogFields{{"container_id", "c1"}}));
  EXPECT_TRUE(current_log_fields().empty());  // restored after the RPC
}

}  // namespace
}  // namespace crisp::cri
