// Status: is the runtime ready, is the pod network ready; verbose adds the effective config.
#include <nlohmann/json.hpp>

#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"

namespace crisp::cri {

namespace {

void add_condition(::runtime::v1::RuntimeStatus* status, const std::string& type, bool ok, const std::string& reason,
                   const std::string& message) {
  auto* c = status->add_conditions();
  c->set_type(type);
  c->set_status(ok);
  c->set_reason(reason);
  c->set_message(message);
}

}  // namespace

grpc::Status RuntimeServiceImpl::Status(grpc::ServerContext*, const ::runtime::v1::StatusRequest* request,
                                        ::runtime::v1::StatusResponse* response) {
  return rpc("Status", *request, [&] {
    auto* status = response->mutable_status();
    add_condition(status, "RuntimeReady", true, "", "");
    NetworkState net = network_state(ctx_);
    add_condition(status, "NetworkReady", net.ready, net.reason, net.message);

    for (const auto& name : kRuntimeHandlers) {
      auto* handler = response->add_runtime_handlers();
      handler->set_name(name);
      handler->mutable_features()->set_recursive_read_only_mounts(true);  // mount_setattr(AT_RECURSIVE)
      // userns mode POD: probed once (a user namespace and an idmapped tmpfs can be made).
      handler->mutable_features()->set_user_namespaces(ctx_.runtime && ctx_.runtime->user_namespaces_supported());
    }
    response->mutable_features()->set_supplemental_groups_policy(false);

    if (request->verbose()) {
      nlohmann::json info = nlohmann::json::parse(config_to_json(effective_config(ctx_)));
      (*response->mutable_info())["config"] = info.dump();
      nlohmann::json cgroup = {{"driver", ctx_.cgroup_driver}, {"version", ctx_.cgroup_version}};
      (*response->mutable_info())["cgroup"] = cgroup.dump();
      (*response->mutable_info())["version"] = nlohmann::json(crisp_version()).dump();
    }
  });
}

}  // namespace crisp::cri
