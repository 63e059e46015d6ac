#pragma once
// Shared by the ImageService handlers: an image record as a CRI Image.
#include "cri/proto/cri_api.h"
#include "image/image_service.h"

namespace crisp::cri {

void to_cri_image(const crisp::image::ImageRecord& record, ::runtime::v1::Image* out);

}  // namespace crisp::cri
