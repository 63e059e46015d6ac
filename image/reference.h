#pragma once
// Image references as the kubelet and users write them, normalised like containerd/docker:
//   busybox                      -> docker.io/library/busybox:latest
//   quay.io/a/b@sha256:<hex>     -> domain quay.io, path a/b, digest
//   127.0.0.1:5000/x/y:v1        -> domain 127.0.0.1:5000, path x/y, tag v1
// Grammar: distribution/reference (lowercase path components separated by [._-], tag
// [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, digest <algorithm>:<hex>, sha256 with 64 hex digits).
#include <optional>
#include <string>
#include <string_view>

namespace crisp::image {

struct Reference {
  std::string domain;  // "docker.io", "registry.k8s.io", "127.0.0.1:5000", "[::1]:5000"
  std::string path;    // "library/busybox"
  std::string tag;     // "" when the reference has only a digest
  std::string digest;  // "sha256:<hex>" or ""

  std::string name() const { return domain + "/" + path; }  // "docker.io/library/busybox"
  // name:tag, name@digest, or name:tag@digest.
  std::string string() const;
  // The tag or digest to ask the registry for (the digest wins when both are given).
  std::string registry_reference() const { return digest.empty() ? tag : digest; }
};

// Parses and normalises. A reference without tag and digest gets tag "latest".
// Throws crisp::Error kInvalidArgument naming the reference when it is malformed.
Reference parse_reference(std::string_view text);

// True for "sha256:" + 64 lowercase hex digits.
bool is_sha256_digest(std::string_view text);
// True for 64 lowercase hex digits (an image id without its "sha256:" prefix).
bool is_sha256_hex(std::string_view text);

}  // namespace crisp::image
