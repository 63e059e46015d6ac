#pragma once
// Image records on disk: <root>/images/<config hex>.json, one JSON document per image (the
// config itself lives in the content store). Internal to image/.
#include <cstdint>
#include <string>

#include "image/image_service.h"

namespace crisp::image {

std::string record_to_json(const ImageRecord& record);
// Throws kInvalidArgument for a malformed document. config_json is not part of the file.
ImageRecord record_from_json(const std::string& text);

// The CRI's uid/username of an image from its config user ("1000", "1000:1000", "app",
// "app:grp"): numeric -> uid, otherwise username; "" -> uid -1, username "".
void image_user(const std::string& config_user, int64_t& uid, std::string& username);

}  // namespace crisp::image
