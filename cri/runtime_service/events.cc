// GetContainerEvents: streams created/started/stopped/deleted events of containers and sandboxes
// (for the kubelet's evented PLEG) until the client goes away.
#include "cri/rpc.h"
#include "cri/runtime_service/convert.h"
#include "cri/runtime_service/runtime_service.h"
#include "runtime/runtime.h"
#include "runtime/base/error.h"

namespace crisp::cri {

namespace {

::runtime::v1::ContainerEventType event_type_to_cri(runtime::EventType type) {
  switch (type) {
    case runtime::EventType::kContainerCreated: return ::runtime::v1::CONTAINER_CREATED_EVENT;
    case runtime::EventType::kContainerStarted: return ::runtime::v1::CONTAINER_STARTED_EVENT;
    case runtime::EventType::kContainerStopped: return ::runtime::v1::CONTAINER_STOPPED_EVENT;
    case runtime::EventType::kContainerDeleted: return ::runtime::v1::CONTAINER_DELETED_EVENT;
  }
  return ::runtime::v1::CONTAINER_CREATED_EVENT;
}

}  // namespace

grpc::Status RuntimeServiceImpl::GetContainerEvents(grpc::ServerContext* context, const ::runtime::v1::GetEventsRequest*,
                                                    grpc::ServerWriter<::runtime::v1::ContainerEventResponse>* writer) {
  if (!ctx_.runtime) return rpc("GetContainerEvents", [] { require_runtime(nullptr); });
  auto& runtime = *ctx_.runtime;
  auto subscription = runtime.events().subscribe();
  while (!context->IsCancelled()) {
    auto event = subscription->next(std::chrono::milliseconds(200));
    if (!event) continue;
    ::runtime::v1::ContainerEventResponse response;
    response.set_container_id(event->container_id);
    response.set_container_event_type(event_type_to_cri(event->type));
    response.set_created_at(event->created_at_ns);
    try {
      fill_pod_sandbox_status(runtime.sandbox_status(event->sandbox_id), response.mutable_pod_sandbox_status());
      runtime::ContainerFilter filter;
      filter.sandbox_id = event->sandbox_id;
      for (const auto& container : runtime.list_containers(filter)) {
        fill_container_status(container, response.add_containers_statuses());
      }
    } catch (const Error&) {
      // The sandbox is gone (a DELETED event): the event alone says it.
    }
    if (!writer->Write(response)) break;
  }
  return grpc::Status::OK;
}

}  // namespace crisp::cri
