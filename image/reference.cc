#include "image/reference.h"

#include <regex>

#include "runtime/base/error.h"

namespace crisp::image {

namespace {

[[noreturn]] void invalid(std::string_view text, const std::string& why) {
  throw Error(ErrorKind::kInvalidArgument,
              "invalid image reference \"" + std::string(text) + "\": " + why);
}

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// distribution/reference: a domain is the first component when it has a '.' or ':' or is
// "localhost" (and more components follow).
bool looks_like_domain(std::string_view first) {
  return first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
         first == "localhost" || (!first.empty() && first.front() == '[');
}

void check_domain(std::string_view text, const std::string& domain) {
  static const std::regex kDomain(
      R"(^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?$)");
  if (!std::regex_match(domain, kDomain)) invalid(text, "bad registry host \"" + domain + "\"");
}

void check_path(std::string_view text, const std::string& path) {
  static const std::regex kComponent(R"(^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$)");
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    std::string component = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (component.empty()) invalid(text, "empty path component");
    if (!std::regex_match(component, kComponent)) {
      invalid(text, "repository name component \"" + component +
                        "\" must be lowercase letters, digits and separators [._-]");
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (path.size() > 255) invalid(text, "repository name longer than 255 characters");
}

}  // namespace

bool is_sha256_hex(std::string_view text) { return text.size() == 64 && is_lower_hex(text); }

bool is_sha256_digest(std::string_view text) {
  return text.size() == 71 && text.substr(0, 7) == "sha256:" && is_sha256_hex(text.substr(7));
}

std::string Reference::string() const {
  std::string out = name();
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

Reference parse_reference(std::string_view text) {
  if (text.empty()) invalid(text, "empty");
  if (text.size() > 4096) invalid(text, "too long");
  for (char c : text) {
    if (c <= ' ' || c == 0x7f) invalid(text, "contains whitespace or control characters");
  }
  Reference ref;
  std::string rest(text);

  size_t at = rest.find('@');
  if (at != std::string::npos) {
    ref.digest = rest.substr(at + 1);
    rest.resize(at);
    size_t colon = ref.digest.find(':');
    if (colon == std::string::npos || colon == 0) invalid(text, "digest must be <algorithm>:<hex>");
    std::string algorithm = ref.digest.substr(0, colon);
    std::string hex = ref.digest.substr(colon + 1);
    if (algorithm == "sha256") {
      if (!is_sha256_hex(hex)) invalid(text, "sha256 digest must be 64 lowercase hex digits");
    } else if (algorithm == "sha512") {
      if (hex.size() != 128 || !is_lower_hex(hex)) invalid(text, "sha512 digest must be 128 lowercase hex digits");
    } else {
      invalid(text, "unsupported digest algorithm \"" + algorithm + "\"");
    }
  }

  // A tag is after the last ':' that follows the last '/'.
  size_t last_slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string::npos && (last_slash == std::string::npos || colon > last_slash)) {
    ref.tag = rest.substr(colon + 1);
    rest.resize(colon);
    static const std::regex kTag(R"(^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$)");
    if (!std::regex_match(ref.tag, kTag)) invalid(text, "bad tag \"" + ref.tag + "\"");
  }
  if (rest.empty()) invalid(text, "no repository name");

  size_t slash = rest.find('/');
  if (slash != std::string::npos && looks_like_domain(std::string_view(rest).substr(0, slash))) {
    ref.domain = rest.substr(0, slash);
    ref.path = rest.substr(slash + 1);
    check_domain(text, ref.domain);
    // Host names are case-insensitive; the canonical form is lowercase.
    for (char& c : ref.domain) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  } else {
    ref.domain = "docker.io";
    ref.path = rest;
  }
  if (ref.domain == "index.docker.io" || ref.domain == "registry-1.docker.io") ref.domain = "docker.io";
  if (ref.domain == "docker.io" && ref.path.find('/') == std::string::npos) ref.path = "library/" + ref.path;
  check_path(text, ref.path);
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

}  // namespace crisp::image
