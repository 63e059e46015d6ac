#include "cri/image_service/image_convert.h"

namespace crisp::cri {

void to_cri_image(const crisp::image::ImageRecord& record, ::runtime::v1::Image* out) {
  out->set_id(record.id);
  for (const auto& t : record.repo_tags) out->add_repo_tags(t);
  for (const auto& d : record.repo_digests) out->add_repo_digests(d);
  out->set_size(record.size);
  if (record.uid >= 0) out->mutable_uid()->set_value(record.uid);
  out->set_username(record.username);
  out->mutable_spec()->set_image(record.id);
  for (const auto& [k, v] : record.annotations) (*out->mutable_spec()->mutable_annotations())[k] = v;
  out->set_pinned(record.pinned);
}

}  // namespace crisp::cri
