#include "image/image_record.h"

#include <nlohmann/json.hpp>

#include "runtime/base/error.h"

namespace crisp::image {

using json = nlohmann::json;

std::string record_to_json(const ImageRecord& r) {
  json j;
  j["id"] = r.id;
  j["repo_tags"] = r.repo_tags;
  j["repo_digests"] = r.repo_digests;
  j["size"] = r.size;
  j["chain_id"] = r.chain_id;
  j["pinned"] = r.pinned;
  j["annotations"] = r.annotations;
  j["manifest_digest"] = r.manifest_digest;
  j["layer_digests"] = r.layer_digests;
  j["diff_ids"] = r.diff_ids;
  j["blobs"] = r.blobs;
  j["media_type"] = r.media_type;
  return j.dump(2) + "\n";
}

ImageRecord record_from_json(const std::string& text) {
  try {
    json j = json::parse(text);
    ImageRecord r;
    r.id = j.at("id").get<std::string>();
    r.repo_tags = j.value("repo_tags", std::vector<std::string>{});
    r.repo_digests = j.value("repo_digests", std::vector<std::string>{});
    r.size = j.value("size", uint64_t{0});
    r.chain_id = j.value("chain_id", std::string());
    r.pinned = j.value("pinned", false);
    r.annotations = j.value("annotations", std::map<std::string, std::string>{});
    r.manifest_digest = j.value("manifest_digest", std::string());
    r.layer_digests = j.value("layer_digests", std::vector<std::string>{});
    r.diff_ids = j.value("diff_ids", std::vector<std::string>{});
    r.blobs = j.value("blobs", std::vector<std::string>{});
    r.media_type = j.value("media_type", std::string());
    return r;
  } catch (const json::exception& e) {
    throw Error(ErrorKind::kInvalidArgument, std::string("malformed image record: ") + e.what());
  }
}

void image_user(const std::string& config_user, int64_t& uid, std::string& username) {
  uid = -1;
  username.clear();
  std::string user = config_user.substr(0, config_user.find(':'));
  if (user.empty()) return;
  bool numeric = user.size() < 11;
  for (char c : user) numeric = numeric && c >= '0' && c <= '9';
  if (numeric) {
    uid = std::stoll(user);
  } else {
    username = user;
  }
}

}  // namespace crisp::image
