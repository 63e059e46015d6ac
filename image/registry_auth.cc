#include "image/registry_auth.h"

#include <openssl/evp.h>

#include <cctype>

#include "runtime/base/error.h"

namespace crisp::image {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~/:").find(c) != std::string_view::npos;
}

void skip_space(std::string_view s, size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
}

std::string read_token(std::string_view s, size_t& i) {
  size_t start = i;
  while (i < s.size() && is_token_char(s[i])) ++i;
  return std::string(s.substr(start, i - start));
}

}  // namespace

std::vector<AuthChallenge> parse_www_authenticate(std::string_view s) {
  std::vector<AuthChallenge> out;
  size_t i = 0;
  while (i < s.size()) {
    skip_space(s, i);
    while (i < s.size() && (s[i] == ',' || s[i] == ' ')) ++i;
    if (i >= s.size()) break;
    std::string scheme = read_token(s, i);
    if (scheme.empty()) break;  // garbage: stop
    AuthChallenge ch;
    ch.scheme = lower(scheme);
    // auth-params: name=value pairs separated by commas, until a token not followed by '='.
    for (;;) {
      skip_space(s, i);
      size_t save = i;
      std::string name = read_token(s, i);
      skip_space(s, i);
      if (name.empty() || i >= s.size() || s[i] != '=') {
        i = save;
        break;
      }
      ++i;  // '='
      skip_space(s, i);
      std::string value;
      if (i < s.size() && s[i] == '"') {
        ++i;
        while (i < s.size() && s[i] != '"') {
          if (s[i] == '\\' && i + 1 < s.size()) ++i;
          value += s[i++];
        }
        if (i < s.size()) ++i;  // closing quote
      } else {
        while (i < s.size() && s[i] != ',' && s[i] != ' ') value += s[i++];
      }
      ch.params[lower(name)] = value;
      skip_space(s, i);
      if (i < s.size() && s[i] == ',') {
        ++i;
        continue;
      }
      break;
    }
    out.push_back(std::move(ch));
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string base64_decode(std::string_view text) {
  std::string clean;
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ') clean += c;
  }
  // Accept unpadded input.
  while (clean.size() % 4 != 0) clean += '=';
  std::string out(3 * clean.size() / 4 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
  if (n < 0) throw Error(ErrorKind::kInvalidArgument, "auth is not valid base64");
  size_t pad = 0;
  for (size_t k = clean.size(); k > 0 && clean[k - 1] == '='; --k) ++pad;
  out.resize(static_cast<size_t>(n) - std::min<size_t>(pad, static_cast<size_t>(n)));
  return out;
}

std::pair<std::string, std::string> basic_credentials(const PullAuth& auth) {
  if (!auth.username.empty()) return {auth.username, auth.password};
  if (auth.auth.empty()) return {"", ""};
  std::string decoded = base64_decode(auth.auth);
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) throw Error(ErrorKind::kInvalidArgument, "auth must encode \"username:password\"");
  return {decoded.substr(0, colon), decoded.substr(colon + 1)};
}

std::optional<std::string> TokenCache::get(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(key);
  if (it == tokens_.end()) return std::nullopt;
  if (std::chrono::steady_clock::now() >= it->second.expires) {
    tokens_.erase(it);
    return std::nullopt;
  }
  return it->second.token;
}

void TokenCache::put(const std::string& key, const std::string& token, std::chrono::seconds lifetime) {
  std::lock_guard lock(mutex_);
  if (tokens_.size() > 1024) tokens_.clear();
  tokens_[key] = {token, std::chrono::steady_clock::now() + lifetime};
}

}  // namespace crisp::image
