#pragma once
// A client for the OCI distribution API v2 on libcurl: manifests and blobs of one repository,
// tried on the registry's hosts in hosts.toml order (mirrors, then the server), with the bearer
// token / basic auth flow, retries with backoff on connection resets and 5xx, redirects to blob
// storage, and a no-progress timeout.
//
//   RegistryClient client({.config_dir = "/etc/crisp/certs.d"});
//   RegistrySession session(client, parse_reference("busybox"), PullAuth{});
//   FetchedManifest m = session.fetch_manifest("latest");
//   session.fetch_blob(layer, 0, [&](const char* p, size_t n) { ... }, [] { return false; });
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "image/hosts_config.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "image/registry_auth.h"

typedef void CURL;

namespace crisp::image {

struct RegistryClientOptions {
  std::string config_dir;                          // hosts.toml directory ("" = none)
  std::chrono::seconds progress_timeout{60};       // no byte for this long: kDeadlineExceeded
  std::chrono::seconds connect_timeout{30};
  uint64_t max_manifest_bytes = uint64_t{4} << 20;  // manifests and indexes (kResourceExhausted above)
  int max_attempts = 4;                             // per request, on resets / 5xx / 429
  std::chrono::milliseconds retry_backoff{200};     // doubled per attempt
};

struct FetchedManifest {
  std::string bytes;
  std::string content_type;
  std::string digest;  // sha256 of bytes (verified against the reference when it is a digest)
};

// Receives a blob's bytes in order; throwing aborts the transfer (the exception is re-thrown).
using BlobSink = std::function<void(const char* data, size_t size)>;
// Polled during a transfer; true aborts it (kUnavailable "cancelled").
using CancelCheck = std::function<bool()>;

class RegistryClient {
 public:
  explicit RegistryClient(RegistryClientOptions options);
  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  const RegistryClientOptions& options() const { return options_; }
  // The hosts.toml directory a new session reads (options().config_dir until set_config_dir).
  std::string config_dir() const;
  // Later sessions read `dir` (crispd's SIGHUP); running ones keep theirs.
  void set_config_dir(std::string dir);
  TokenCache& tokens() { return tokens_; }

  // A pooled curl easy handle (keeps its connections alive between requests).
  CURL* acquire_handle();
  void release_handle(CURL* handle);

 private:
  RegistryClientOptions options_;
  mutable std::mutex config_dir_mutex_;  // guards config_dir_
  std::string config_dir_;
  TokenCache tokens_;
  std::mutex pool_mutex_;        // guards pool_
  std::vector<CURL*> pool_;      // idle easy handles
};

class RegistrySession {
 public:
  // cancelled (optional) is polled during every transfer: true aborts it (kUnavailable "cancelled").
  RegistrySession(RegistryClient& client, Reference ref, PullAuth auth, CancelCheck cancelled = {});

  const Reference& reference() const { return ref_; }
  const std::vector<RegistryHost>& hosts() const { return hosts_; }

  // GET <root>/<repo>/manifests/<reference> (tag or digest). Size limited; a digest reference
  // must match the bytes (kInvalidArgument otherwise).
  FetchedManifest fetch_manifest(const std::string& reference);
  // A small blob (config) in memory, size and digest verified.
  std::string fetch_small_blob(const Descriptor& blob, uint64_t limit);
  // Streams blob bytes from `offset` into sink (resuming with Range after a reset). The caller
  // verifies the digest; more bytes than blob.size fail.
  void fetch_blob(const Descriptor& blob, uint64_t offset, const BlobSink& sink, const CancelCheck& cancelled);

  // One transfer and its outcome (defined in registry_client.cc; public for libcurl's callbacks).
  struct Result;
  struct Target;

 private:
  Result request(const RegistryHost& host, const std::string& path, const Target& target);
  Result perform(const RegistryHost& host, const std::string& url, const std::vector<std::string>& headers,
                 const Target& target, uint64_t skip);
  std::string authenticate(const RegistryHost& host, const std::string& www_authenticate);
  std::string fetch_token(const RegistryHost& host, const AuthChallenge& challenge);

  RegistryClient& client_;
  Reference ref_;
  PullAuth auth_;
  CancelCheck cancelled_;
  std::vector<RegistryHost> hosts_;
  std::mutex auth_mutex_;                               // guards authorization_
  std::map<std::string, std::string> authorization_;  // host -> "Authorization: ..." header line
};

}  // namespace crisp::image
