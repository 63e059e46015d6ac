#include "image/snapshot/chain_id.h"

#include <openssl/evp.h>

#include "runtime/base/error.h"

namespace crisp::snapshot {

namespace {

std::string sha256_digest(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1)
    throw Error(ErrorKind::kInternal, "sha256 failed");
  static const char digits[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < size; ++i) {
    out += digits[digest[i] >> 4];
    out += digits[digest[i] & 0xf];
  }
  return out;
}

}  // namespace

bool is_valid_chain_id(const std::string& id) {
  if (id.size() != 7 + 64 || id.compare(0, 7, "sha256:") != 0) return false;
  for (size_t i = 7; i < id.size(); ++i) {
    char c = id[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string chain_id(const std::string& parent_chain_id, const std::string& diff_id) {
  if (parent_chain_id.empty()) return diff_id;
  return sha256_digest(parent_chain_id + " " + diff_id);
}

std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  out.reserve(diff_ids.size());
  std::string parent;
  for (const auto& diff_id : diff_ids) {
    parent = chain_id(parent, diff_id);
    out.push_back(parent);
  }
  return out;
}

}  // namespace crisp::snapshot
