#pragma once
// Fields that describe what the current thread is working on (the pod and container of the RPC it
// serves). crispd's log formatter adds them to every record: as JSON fields in --log-format json,
// as key=value suffixes in text. Set for the duration of an RPC by rpc() (cri/rpc.h).
#include <string>
#include <utility>
#include <vector>

namespace google::protobuf {
class Message;
}

namespace crisp::cri {

using LogFields = std::vector<std::pair<std::string, std::string>>;

// The fields of the calling thread (empty outside an RPC).
const LogFields& current_log_fields();

// The ids a CRI request names: pod_sandbox_id, container_id, and for RunPodSandbox /
// CreateContainer the pod (namespace/name) and container names of their config metadata.
LogFields log_fields_of(const google::protobuf::Message& request);

// Sets the thread's fields for its lifetime; restores the previous ones after.
class ScopedLogFields {
 public:
  explicit ScopedLogFields(LogFields fields);
  ~ScopedLogFields();
  ScopedLogFields(const ScopedLogFields&) = delete;
  ScopedLogFields& operator=(const ScopedLogFields&) = delete;

 private:
  LogFields previous_;
};

}  // namespace crisp::cri
