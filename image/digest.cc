#include "image/digest.h"

#include <openssl/evp.h>

#include "image/reference.h"
#include "runtime/base/error.h"

namespace crisp::image {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
    throw Error(ErrorKind::kInternal, "cannot initialise sha256");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::update(const void* data, size_t size) {
  if (size > 0 && EVP_DigestUpdate(ctx_, data, size) != 1) throw Error(ErrorKind::kInternal, "sha256 update failed");
}

std::string Sha256::digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, md, &len) != 1) throw Error(ErrorKind::kInternal, "sha256 final failed");
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string sha256_digest(std::string_view bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.digest();
}

std::string digest_hex(const std::string& digest) {
  if (!is_sha256_digest(digest)) throw Error(ErrorKind::kInvalidArgument, "not a sha256 digest: \"" + digest + "\"");
  return digest.substr(7);
}

}  // namespace crisp::image
