#pragma once
// Registry authentication pieces: WWW-Authenticate challenges (RFC 7235 / the distribution token
// spec), the credentials a pull carries (the CRI's AuthConfig) and a cache of bearer tokens.
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crisp::image {

// Credentials for one pull, as the kubelet passes them in PullImageRequest.auth.
struct PullAuth {
  std::string username;
  std::string password;
  std::string auth;            // base64("username:password"), used when username is empty
  std::string identity_token;  // OAuth2 refresh token, exchanged at the token endpoint
  std::string registry_token;  // a bearer token sent as is
  bool empty() const {
    return username.empty() && password.empty() && auth.empty() && identity_token.empty() && registry_token.empty();
  }
};

// username/password with `auth` decoded when the username is empty. kInvalidArgument for a
// malformed `auth`.
std::pair<std::string, std::string> basic_credentials(const PullAuth& auth);

struct AuthChallenge {
  std::string scheme;                         // lowercase: "bearer", "basic"
  std::map<std::string, std::string> params;  // lowercase names: realm, service, scope, error
};

// Parses a WWW-Authenticate header value, possibly holding several challenges:
//   Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"
std::vector<AuthChallenge> parse_www_authenticate(std::string_view header);

std::string base64_encode(std::string_view bytes);
// Throws kInvalidArgument on bad input.
std::string base64_decode(std::string_view text);

// Bearer tokens by (realm, service, scope, credential identity); entries expire.
class TokenCache {
 public:
  std::optional<std::string> get(const std::string& key);
  void put(const std::string& key, const std::string& token, std::chrono::seconds lifetime);

 private:
  struct Entry {
    std::string token;
    std::chrono::steady_clock::time_point expires;
  };
  std::mutex mutex_;  // guards tokens_
  std::map<std::string, Entry> tokens_;
};

}  // namespace crisp::image
