#pragma once
// A private OCI distribution registry for tests: Debian's docker-registry on 127.0.0.1.
//
//   crisp::test::RegistryFixture registry;                  // started, /v2/ answers
//   registry.host();                                        // "127.0.0.1:41234"
//   std::string digest = registry.push_blob("crisp-test/x", bytes);
//   registry.push_manifest("crisp-test/x", "latest", manifest_bytes, media_type);
//   registry.push_image("crisp-test/x", "v1", image);       // an oci_builder Image (or Index)
//   HttpResponse r = registry.get("/v2/crisp-test/x/manifests/v1", {"Accept: ..."});
//
// With basic auth (bcrypt htpasswd file made with `htpasswd -Bbn`); pushes and get() use the
// credentials, anonymous requests get 401:
//   crisp::test::RegistryFixture registry({.username = "user", .password = "secret"});
//
// Start costs ~20-50 ms: a temp dir (config.yml, htpasswd, storage/), a free port (bind
// 127.0.0.1:0, retried when the registry fails to bind), and a wait for /v2/. The registry runs in
// its own process group and dies with the test process (PR_SET_PDEATHSIG). stop() and the
// destructor kill the group, reap it and remove the temp dir, pass or fail. Temp dirs of test
// processes that were killed (SIGKILL, crash) are removed by the next RegistryFixture.
// PR_SET_PDEATHSIG fires when the *thread* that created the fixture exits: create it on a thread
// that outlives it (the main thread, SetUpTestSuite, a global Environment).
//
// One registry shared by all tests of a binary:
//   int main(int argc, char** argv) {          // or in any .cc linked into the test
//     ::testing::InitGoogleTest(&argc, argv);
//     ::testing::AddGlobalTestEnvironment(new crisp::test::RegistryEnvironment());
//     return RUN_ALL_TESTS();
//   }
//   ... crisp::test::RegistryEnvironment::registry().host() ...
//
// Every method throws crisp::Error (kUnavailable when the registry cannot be started,
// kInternal/kPermissionDenied for unexpected HTTP answers, with status and body in the message).
#include <gtest/gtest.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/oci_builder.h"
#include "tests/support/test_assets.h"

namespace crisp::test {

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names, last value wins
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// One HTTP request with libcurl (no proxy, no redirects followed). method: "GET", "HEAD", "PUT",
// "POST", "DELETE", "PATCH". headers: "Name: value" lines. Basic auth when username is non-empty.
// Throws only on transport errors (connection refused, timeout).
HttpResponse http_request(const std::string& method, const std::string& url,
                          const std::string& body = "", const std::vector<std::string>& headers = {},
                          const std::string& username = "", const std::string& password = "");

struct RegistryOptions {
  std::string username;  // non-empty: htpasswd basic auth required for everything
  std::string password;
  std::string binary = "/usr/bin/docker-registry";
};

class RegistryFixture {
 public:
  explicit RegistryFixture(RegistryOptions options = {});
  ~RegistryFixture();
  RegistryFixture(const RegistryFixture&) = delete;
  RegistryFixture& operator=(const RegistryFixture&) = delete;

  // Kills the registry and removes its temp dir. Idempotent.
  void stop();
  bool running() const { return pid_ > 0; }

  const std::string& host() const { return host_; }  // "127.0.0.1:PORT"
  std::string url() const { return "http://" + host_; }
  int port() const { return port_; }
  const std::string& storage_dir() const { return storage_dir_; }
  const std::string& username() const { return options_.username; }
  const std::string& password() const { return options_.password; }
  bool auth_enabled() const { return !options_.username.empty(); }

  // Uploads bytes (POST /v2/<repo>/blobs/uploads/ then PUT ?digest=), skipping blobs the repo
  // already has. Returns "sha256:...".
  std::string push_blob(const std::string& repo, const std::string& bytes);
  // PUT /v2/<repo>/manifests/<reference> (tag or digest). Returns the manifest digest.
  std::string push_manifest(const std::string& repo, const std::string& reference,
                            const std::string& bytes, const std::string& media_type);
  // Config + layers, then the manifest under `tag`. Returns the manifest digest.
  std::string push_image(const std::string& repo, const std::string& tag, const Image& image);
  // Every child image (by digest), then the index / manifest list under `tag`. Returns its digest.
  std::string push_image(const std::string& repo, const std::string& tag, const Index& index);

  // Requests against this registry with its credentials (path starts with "/v2/").
  HttpResponse get(const std::string& path, const std::vector<std::string>& headers = {}) const;
  HttpResponse request(const std::string& method, const std::string& path,
                       const std::string& body = "",
                       const std::vector<std::string>& headers = {}) const;

 private:
  void start_once();
  bool wait_ready();

  RegistryOptions options_;
  std::unique_ptr<TempDir> temp_dir_;
  std::string storage_dir_;
  std::string host_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// GoogleTest global environment owning one registry for the whole test binary.
class RegistryEnvironment : public ::testing::Environment {
 public:
  explicit RegistryEnvironment(RegistryOptions options = {}) : options_(std::move(options)) {}
  void SetUp() override;
  void TearDown() override;
  // The registry of the environment set up last; throws kFailedPrecondition if none is running.
  static RegistryFixture& registry();

 private:
  RegistryOptions options_;
  std::unique_ptr<RegistryFixture> registry_;
};

}  // namespace crisp::test
