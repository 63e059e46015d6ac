#include "tests/support/registry_fixture.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <thread>

#include "runtime/base/error.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"

namespace crisp::test {
namespace {

size_t append_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t parse_header(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string line(data, size * count);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    auto begin = value.find_first_not_of(" \t");
    auto end = value.find_last_not_of(" \t\r\n");
    (*headers)[name] = begin == std::string::npos ? "" : value.substr(begin, end - begin + 1);
  }
  return size * count;
}

int pick_free_port() {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw_errno("bind");
  socklen_t len = sizeof addr;
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw_errno("getsockname");
  }
  return ntohs(addr.sin_port);
}

std::string config_yaml(const std::string& storage, int port, const std::string& htpasswd) {
  std::string yaml =
      "version: 0.1\n"
      "log:\n"
      "  level: warn\n"
      "  accesslog:\n"
      "    disabled: true\n"
      "storage:\n"
      "  filesystem:\n"
      "    rootdirectory: " +
      storage +
      "\n"
      "  delete:\n"
      "    enabled: true\n"
      "  maintenance:\n"
      "    uploadpurging:\n"
      "      enabled: false\n"
      "http:\n"
      "  addr: 127.0.0.1:" +
      std::to_string(port) +
      "\n"
      "  secret: " +
      random_hex(16) + "\n";
  if (!htpasswd.empty()) {
    yaml +=
        "auth:\n"
        "  htpasswd:\n"
        "    realm: crisp-test\n"
        "    path: " +
        htpasswd + "\n";
  }
  return yaml;
}

std::string url_encode(const std::string& s) {
  std::string out;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// Removes registry temp dirs left by test processes that died without cleaning up (their
// registries died with them through PR_SET_PDEATHSIG). A dir is stale when the pid in its
// owner.pid no longer exists.
void remove_stale_registry_dirs() {
  const char* tmp = getenv("TMPDIR");
  std::string base = tmp && *tmp ? tmp : "/tmp";
  std::vector<std::string> stale;
  if (DIR* d = opendir(base.c_str())) {
    while (dirent* ent = readdir(d)) {
      std::string name = ent->d_name;
      if (name.rfind("crisp-registry-", 0) != 0) continue;
      auto owner = read_file_if_exists(base + "/" + name + "/owner.pid");
      if (!owner) continue;
      pid_t pid = static_cast<pid_t>(std::atoi(owner->c_str()));
      if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) stale.push_back(base + "/" + name);
    }
    closedir(d);
  }
  for (const auto& path : stale) {
    try {
      remove_tree(path);
    } catch (const Error&) {
      // another process is removing it
    }
  }
}

[[noreturn]] void throw_http(const std::string& what, const HttpResponse& r) {
  ErrorKind kind = (r.status == 401 || r.status == 403) ? ErrorKind::kPermissionDenied
                                                        : ErrorKind::kInternal;
  throw Error(kind, what + ": HTTP " + std::to_string(r.status) + ": " + r.body);
}

}  // namespace

HttpResponse http_request(const std::string& method, const std::string& url,
                          const std::string& body, const std::vector<std::string>& headers,
                          const std::string& username, const std::string& password) {
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw Error(ErrorKind::kInternal, "curl_easy_init failed");
  HttpResponse response;
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip for large bodies
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(list, curl_slist_free_all);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 600L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, parse_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &response.headers);
  if (!username.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, password.c_str());
  }
  if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (method != "GET" || !body.empty()) {
    if (method != "GET" && method != "DELETE") {
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    throw Error(ErrorKind::kUnavailable,
                method + " " + url + ": " + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

RegistryFixture::RegistryFixture(RegistryOptions options) : options_(std::move(options)) {
  if (access(options_.binary.c_str(), X_OK) != 0) {
    throw Error(ErrorKind::kUnavailable, options_.binary + " is not installed (docker-registry)");
  }
  remove_stale_registry_dirs();
  temp_dir_ = std::make_unique<TempDir>("crisp-registry");
  atomic_write_file(temp_dir_->path() + "/owner.pid", std::to_string(getpid()), 0644);
  storage_dir_ = temp_dir_->path() + "/storage";
  make_dirs(storage_dir_, 0755);
  try {
    if (auth_enabled()) {
      CommandResult r = run_command({"htpasswd", "-Bbn", options_.username, options_.password},
                                    "", false);
      if (r.exit_code != 0) {
        throw Error(ErrorKind::kUnavailable, "htpasswd -Bbn failed: " + r.output);
      }
      atomic_write_file(temp_dir_->path() + "/htpasswd", r.output, 0600);
    }
    std::string last_log;
    for (int attempt = 0; attempt < 8; ++attempt) {
      start_once();
      if (wait_ready()) return;
      last_log = read_file_if_exists(temp_dir_->path() + "/registry.log").value_or("");
      if (pid_ > 0) {
        kill(-pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
      }
      if (last_log.find("address already in use") == std::string::npos) break;
    }
    throw Error(ErrorKind::kUnavailable, "docker-registry did not start: " + last_log);
  } catch (...) {
    stop();
    throw;
  }
}

RegistryFixture::~RegistryFixture() {
  try {
    stop();
  } catch (...) {
  }
}

void RegistryFixture::start_once() {
  port_ = pick_free_port();
  host_ = "127.0.0.1:" + std::to_string(port_);
  std::string config_path = temp_dir_->path() + "/config.yml";
  std::string htpasswd = auth_enabled() ? temp_dir_->path() + "/htpasswd" : "";
  atomic_write_file(config_path, config_yaml(storage_dir_, port_, htpasswd), 0600);
  std::string log_path = temp_dir_->path() + "/registry.log";
  UniqueFd log(open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!log) throw_errno("open " + log_path);
  UniqueFd dev_null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null) throw_errno("open /dev/null");

  std::string arg0 = "docker-registry", arg1 = "serve";
  char* argv[] = {arg0.data(), arg1.data(), config_path.data(), nullptr};
  std::string path_env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  std::string home_env = "HOME=" + temp_dir_->path();
  char* envp[] = {path_env.data(), home_env.data(), nullptr};
  const char* binary = options_.binary.c_str();
  pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    // Child: async-signal-safe calls only. Own process group; dies with the test process.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(dev_null.get(), 0);
    dup2(log.get(), 1);
    dup2(log.get(), 2);
    execve(binary, argv, envp);
    _exit(127);
  }
  setpgid(pid, pid);  // also from the parent, so kill(-pid) works at once
  pid_ = pid;
}

bool RegistryFixture::wait_ready() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    try {
      HttpResponse r = http_request("GET", url() + "/v2/");
      if (r.status == 200 || r.status == 401) return true;
    } catch (const Error&) {
      // not listening yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

void RegistryFixture::stop() {
  if (pid_ > 0) {
    kill(-pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    bool reaped = false;
    while (std::chrono::steady_clock::now() < deadline) {
      pid_t r = waitpid(pid_, nullptr, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) {
        reaped = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    kill(-pid_, SIGKILL);  // anything left in the group
    if (!reaped) waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  if (temp_dir_) {
    temp_dir_->remove();
    temp_dir_.reset();
  }
}

HttpResponse RegistryFixture::request(const std::string& method, const std::string& path,
                                      const std::string& body,
                                      const std::vector<std::string>& headers) const {
  std::string target = path.rfind("http", 0) == 0 ? path : url() + path;
  return http_request(method, target, body, headers, options_.username, options_.password);
}

HttpResponse RegistryFixture::get(const std::string& path,
                                  const std::vector<std::string>& headers) const {
  return request("GET", path, "", headers);
}

std::string RegistryFixture::push_blob(const std::string& repo, const std::string& bytes) {
  std::string digest = sha256_digest(bytes);
  HttpResponse head = request("HEAD", "/v2/" + repo + "/blobs/" + digest);
  if (head.status == 200) return digest;
  HttpResponse start = request("POST", "/v2/" + repo + "/blobs/uploads/");
  if (start.status != 202) throw_http("start upload to " + repo, start);
  std::string location = start.header("location");
  if (location.empty()) throw_http("upload without Location", start);
  location += location.find('?') == std::string::npos ? '?' : '&';
  location += "digest=" + url_encode(digest);
  HttpResponse put =
      request("PUT", location, bytes, {"Content-Type: application/octet-stream"});
  if (put.status != 201) throw_http("upload " + digest + " to " + repo, put);
  return digest;
}

std::string RegistryFixture::push_manifest(const std::string& repo, const std::string& reference,
                                           const std::string& bytes,
                                           const std::string& media_type) {
  HttpResponse put = request("PUT", "/v2/" + repo + "/manifests/" + reference, bytes,
                             {"Content-Type: " + media_type});
  if (put.status != 201) throw_http("push manifest " + repo + ":" + reference, put);
  return sha256_digest(bytes);
}

std::string RegistryFixture::push_image(const std::string& repo, const std::string& tag,
                                        const Image& image) {
  for (const auto& layer : image.layers) push_blob(repo, layer.data);
  push_blob(repo, image.config.bytes);
  return push_manifest(repo, tag, image.manifest.bytes, image.manifest.media_type);
}

std::string RegistryFixture::push_image(const std::string& repo, const std::string& tag,
                                        const Index& index) {
  for (const auto& image : index.images) push_image(repo, image.manifest.digest, image);
  return push_manifest(repo, tag, index.manifest.bytes, index.manifest.media_type);
}

namespace {
// Guards nothing concurrent: set in SetUp/TearDown on the main thread.
RegistryFixture* g_environment_registry = nullptr;
}  // namespace

void RegistryEnvironment::SetUp() {
  registry_ = std::make_unique<RegistryFixture>(options_);
  g_environment_registry = registry_.get();
}

void RegistryEnvironment::TearDown() {
  if (g_environment_registry == registry_.get()) g_environment_registry = nullptr;
  registry_.reset();
}

RegistryFixture& RegistryEnvironment::registry() {
  if (!g_environment_registry) {
    throw Error(ErrorKind::kFailedPrecondition, "no RegistryEnvironment is set up");
  }
  return *g_environment_registry;
}

}  // namespace crisp::test
