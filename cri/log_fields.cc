#include "cri/log_fields.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

namespace crisp::cri {

namespace {

thread_local LogFields t_fields;

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

std::string string_field(const Message& m, const char* name) {
  const FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(name);
  if (!f || f->is_repeated() || f->cpp_type() != FieldDescriptor::CPPTYPE_STRING) return {};
  return m.GetReflection()->GetString(m, f);
}

const Message* message_field(const Message& m, const char* name) {
  const FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(name);
  if (!f || f->is_repeated() || f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return nullptr;
  if (!m.GetReflection()->HasField(m, f)) return nullptr;
  return &m.GetReflection()->GetMessage(m, f);
}

}  // namespace

const LogFields& current_log_fields() { return t_fields; }

LogFields log_fields_of(const Message& request) {
  LogFields fields;
  if (std::string id = string_field(request, "pod_sandbox_id"); !id.empty()) fields.emplace_back("pod_id", id);
  if (std::string id = string_field(request, "container_id"); !id.empty()) fields.emplace_back("container_id", id);
  if (const Message* config = message_field(request, "config")) {
    if (const Message* meta = message_field(*config, "metadata")) {
      std::string name = string_field(*meta, "name");
      std::string ns = string_field(*meta, "namespace");
      if (!ns.empty()) fields.emplace_back("pod", ns + "/" + name);  // PodSandboxMetadata
      else if (!name.empty()) fields.emplace_back("container", name);  // ContainerMetadata
    }
  }
  return fields;
}

ScopedLogFields::ScopedLogFields(LogFields fields) : previous_(std::move(t_fields)) { t_fields = std::move(fields); }

ScopedLogFields::~ScopedLogFields() { t_fields = std::move(previous_); }

}  // namespace crisp::cri
