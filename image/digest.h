#pragma once
// sha256 content digests ("sha256:<64 hex>") with OpenSSL EVP, in one piece or streamed.
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace crisp::image {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t size);
  // "sha256:<hex>"; the object must not be updated afterwards.
  std::string digest();

 private:
  evp_md_ctx_st* ctx_;
};

std::string sha256_digest(std::string_view bytes);

// "sha256:<hex>" -> "<hex>"; kInvalidArgument unless a well-formed sha256 digest.
std::string digest_hex(const std::string& digest);

}  // namespace crisp::image
