#include "image/registry_client.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "image/digest.h"
#include "runtime/base/cleanup.h"
#include "runtime/base/error.h"

namespace crisp::image {

namespace {

constexpr size_t kErrorBodyLimit = 4096;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool retriable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string escape(const std::string& s) {
  char* e = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

std::string snippet(const std::string& body) {
  std::string s = trim(body.substr(0, 300));
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

// One transfer's description.
struct RegistrySession::Target {
  std::string what;            // for messages: "manifest docker.io/library/busybox:latest"
  std::string accept;          // Accept header ("" = none)
  uint64_t limit = 0;          // collect mode: maximum body size
  const BlobSink* sink = nullptr;  // stream mode when set
  const CancelCheck* cancelled = nullptr;
  std::string post_body;       // POST instead of GET when non-empty
  std::string username;        // basic auth for token requests
  std::string password;
};

struct RegistrySession::Result {
  CURL* curl = nullptr;
  const Target* target = nullptr;
  long status = 0;
  CURLcode code = CURLE_OK;
  std::string curl_error;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;                            // collected body or an error body snippet
  uint64_t delivered = 0;                      // bytes given to the sink
  uint64_t skip = 0;                           // bytes to drop from a 200 answer to a Range request
  bool too_large = false;
  bool cancelled = false;
  bool stalled = false;                        // no byte for the progress timeout
  curl_off_t last_now = -1;                    // bytes received at the last progress callback
  std::chrono::steady_clock::time_point last_progress = std::chrono::steady_clock::now();
  std::chrono::seconds progress_timeout{60};
  std::exception_ptr sink_error;
};

namespace {

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<RegistrySession::Result*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    r->headers.clear();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = lower(trim(line.substr(0, colon)));
    std::string value = trim(line.substr(colon + 1));
    auto it = r->headers.find(name);
    if (it != r->headers.end() && name == "www-authenticate") {
      it->second += ", " + value;
    } else {
      r->headers[name] = value;
    }
  }
  return size * n;
}

}  // namespace

// Defined outside the anonymous namespace: it needs the session's private types.
static size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<RegistrySession::Result*>(user);
  size_t len = size * n;
  long code = 0;
  curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
  if (code != 200 && code != 206) {
    if (r->body.size() < kErrorBodyLimit) r->body.append(data, std::min(len, kErrorBodyLimit - r->body.size()));
    return len;
  }
  const char* p = data;
  size_t remaining = len;
  if (code == 200 && r->skip > 0) {
    size_t s = static_cast<size_t>(std::min<uint64_t>(r->skip, remaining));
    r->skip -= s;
    p += s;
    remaining -= s;
  }
  if (remaining == 0) return len;
  if (r->target->sink) {
    try {
      (*r->target->sink)(p, remaining);
    } catch (...) {
      r->sink_error = std::current_exception();
      return 0;
    }
    r->delivered += remaining;
  } else {
    if (r->body.size() + remaining > r->target->limit) {
      r->too_large = true;
      return 0;
    }
    r->body.append(p, remaining);
  }
  return len;
}

static int on_progress(void* user, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* r = static_cast<RegistrySession::Result*>(user);
  // The no-progress timeout: curl's LOW_SPEED averages over a window of seconds, this is exact.
  auto now = std::chrono::steady_clock::now();
  if (dlnow != r->last_now) {
    r->last_now = dlnow;
    r->last_progress = now;
  } else if (now - r->last_progress >= r->progress_timeout) {
    r->stalled = true;
    return 1;
  }
  if (r->target->cancelled && *r->target->cancelled && (*r->target->cancelled)()) {
    r->cancelled = true;
    return 1;
  }
  return 0;
}

RegistryClient::RegistryClient(RegistryClientOptions options)
    : options_(std::move(options)), config_dir_(options_.config_dir) {
  global_init();
}

std::string RegistryClient::config_dir() const {
  std::lock_guard lock(config_dir_mutex_);
  return config_dir_;
}

void RegistryClient::set_config_dir(std::string dir) {
  std::lock_guard lock(config_dir_mutex_);
  config_dir_ = std::move(dir);
}

RegistryClient::~RegistryClient() {
  for (CURL* c : pool_) curl_easy_cleanup(c);
}

CURL* RegistryClient::acquire_handle() {
  {
    std::lock_guard lock(pool_mutex_);
    if (!pool_.empty()) {
      CURL* c = pool_.back();
      pool_.pop_back();
      return c;
    }
  }
  CURL* c = curl_easy_init();
  if (!c) throw Error(ErrorKind::kInternal, "curl_easy_init failed");
  return c;
}

void RegistryClient::release_handle(CURL* handle) {
  curl_easy_reset(handle);  // keeps live connections, DNS and TLS session caches
  std::lock_guard lock(pool_mutex_);
  if (pool_.size() < 16) {
    pool_.push_back(handle);
  } else {
    curl_easy_cleanup(handle);
  }
}

RegistrySession::RegistrySession(RegistryClient& client, Reference ref, PullAuth auth, CancelCheck cancelled)
    : client_(client), ref_(std::move(ref)), auth_(std::move(auth)), cancelled_(std::move(cancelled)) {
  hosts_ = registry_hosts(client_.config_dir(), ref_.domain);
}

RegistrySession::Result RegistrySession::perform(const RegistryHost& host, const std::string& url,
                                                 const std::vector<std::string>& headers, const Target& target,
                                                 uint64_t skip) {
  const auto& opt = client_.options();
  Result r;
  r.target = &target;
  r.skip = skip;
  r.progress_timeout = opt.progress_timeout;
  CURL* c = client_.acquire_handle();
  r.curl = c;
  Cleanup release([&] { client_.release_handle(c); });
  curl_slist* list = nullptr;
  Cleanup free_list([&] { curl_slist_free_all(list); });
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(opt.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "crisp/0.1");
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &r);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  if (host.skip_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!host.ca_files.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, host.ca_files.front().c_str());
  if (!host.client_certs.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, host.client_certs.front().first.c_str());
    if (!host.client_certs.front().second.empty()) {
      curl_easy_setopt(c, CURLOPT_SSLKEY, host.client_certs.front().second.c_str());
    }
  }
  if (is_loopback_host(host.host)) curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  if (!target.post_body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, target.post_body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(target.post_body.size()));
  }
  if (!target.username.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, target.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, target.password.c_str());
  }
  r.code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  r.curl_error = errbuf[0] ? errbuf : curl_easy_strerror(r.code);
  r.curl = nullptr;
  return r;
}

RegistrySession::Result RegistrySession::request(const RegistryHost& host, const std::string& path,
                                                 const Target& target) {
  const auto& opt = client_.options();
  const std::string url = host.api_root() + path;
  bool auth_tried = false;
  uint64_t delivered = 0;
  auto backoff = opt.retry_backoff;
  for (int attempt = 1;; ) {
    std::vector<std::string> headers;
    if (!target.accept.empty()) headers.push_back("Accept: " + target.accept);
    for (const auto& [k, v] : host.headers) headers.push_back(k + ": " + v);
    {
      std::lock_guard lock(auth_mutex_);
      auto it = authorization_.find(host.host);
      if (it != authorization_.end()) headers.push_back(it->second);
    }
    if (target.sink && delivered > 0) headers.push_back("Range: bytes=" + std::to_string(delivered) + "-");
    Result r = perform(host, url, headers, target, delivered);
    delivered += r.delivered;
    if (r.sink_error) std::rethrow_exception(r.sink_error);
    if (r.cancelled) throw Error(ErrorKind::kUnavailable, target.what + ": cancelled");
    if (r.too_large) {
      throw Error(ErrorKind::kResourceExhausted, target.what + " from " + host.host + " is larger than the limit of " +
                                                     std::to_string(target.limit) + " bytes");
    }
    if (r.stalled || r.code == CURLE_OPERATION_TIMEDOUT) {
      throw Error(ErrorKind::kDeadlineExceeded,
                  target.what + ": no progress from " + host.host + " for " + std::to_string(opt.progress_timeout.count()) +
                      " s (pull progress timeout)");
    }
    if (r.code != CURLE_OK) {
      if (retriable(r.code) && attempt < opt.max_attempts) {
        spdlog::warn("{} from {}: {} (attempt {}/{}, retrying in {} ms)", target.what, host.host, r.curl_error, attempt,
                     opt.max_attempts, backoff.count());
        std::this_thread::sleep_for(backoff);
        backoff *= 2;
        ++attempt;
        continue;
      }
      throw Error(ErrorKind::kUnavailable, target.what + ": cannot fetch from " + host.api_root() + ": " + r.curl_error);
    }
    if (r.status == 401 && !auth_tried) {
      auth_tried = true;
      std::string header = authenticate(host, r.headers["www-authenticate"]);
      std::lock_guard lock(auth_mutex_);
      authorization_[host.host] = header;
      continue;
    }
    if (r.status == 401 || r.status == 403) {
      std::string creds = auth_.empty() ? "no credentials were given" : "the credentials were refused";
      throw Error(ErrorKind::kPermissionDenied, target.what + ": " + host.host + " answered " +
                                                    std::to_string(r.status) + " (authentication failed: " + creds +
                                                    ") " + snippet(r.body));
    }
    if (r.status == 404) {
      throw Error(ErrorKind::kNotFound, target.what + " not found at " + host.api_root() + " " + snippet(r.body));
    }
    if ((r.status >= 500 || r.status == 429) && attempt < opt.max_attempts) {
      spdlog::warn("{} from {}: HTTP {} (attempt {}/{}, retrying in {} ms)", target.what, host.host, r.status, attempt,
                   opt.max_attempts, backoff.count());
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
      ++attempt;
      continue;
    }
    if (r.status < 200 || r.status >= 300) {
      throw Error(r.status >= 500 || r.status == 429 ? ErrorKind::kUnavailable : ErrorKind::kInvalidArgument,
                  target.what + ": " + host.host + " answered HTTP " + std::to_string(r.status) + " " + snippet(r.body));
    }
    return r;
  }
}

std::string RegistrySession::authenticate(const RegistryHost& host, const std::string& www_authenticate) {
  std::vector<AuthChallenge> challenges = parse_www_authenticate(www_authenticate);
  for (const auto& ch : challenges) {
    if (ch.scheme == "bearer") {
      if (!auth_.registry_token.empty()) return "Authorization: Bearer " + auth_.registry_token;
      return "Authorization: Bearer " + fetch_token(host, ch);
    }
  }
  for (const auto& ch : challenges) {
    if (ch.scheme == "basic") {
      auto [user, pass] = basic_credentials(auth_);
      if (user.empty()) {
        throw Error(ErrorKind::kPermissionDenied, "pulling " + ref_.string() + ": " + host.host +
                                                      " requires authentication (basic) and no credentials were given");
      }
      return "Authorization: Basic " + base64_encode(user + ":" + pass);
    }
  }
  throw Error(ErrorKind::kPermissionDenied, "pulling " + ref_.string() + ": " + host.host +
                                                " answered 401 with no supported challenge (\"" + www_authenticate + "\")");
}

std::string RegistrySession::fetch_token(const RegistryHost& host, const AuthChallenge& ch) {
  auto realm_it = ch.params.find("realm");
  if (realm_it == ch.params.end() || realm_it->second.empty()) {
    throw Error(ErrorKind::kPermissionDenied, host.host + ": bearer challenge without a realm");
  }
  const std::string& realm = realm_it->second;
  std::string service = ch.params.count("service") ? ch.params.at("service") : "";
  std::string scope = ch.params.count("scope") ? ch.params.at("scope") : "repository:" + ref_.path + ":pull";
  auto [user, pass] = basic_credentials(auth_);
  std::string key = sha256_digest(realm + "\n" + service + "\n" + scope + "\n" + user + "\n" + pass + "\n" +
                                  auth_.identity_token);
  if (auto cached = client_.tokens().get(key)) return *cached;

  Target t;
  t.what = "token for " + ref_.name() + " from " + realm;
  t.limit = 1 << 20;
  std::string url = realm;
  if (!auth_.identity_token.empty()) {
    t.post_body = "grant_type=refresh_token&client_id=crisp&service=" + escape(service) + "&scope=" + escape(scope) +
                  "&refresh_token=" + escape(auth_.identity_token);
  } else {
    url += (realm.find('?') == std::string::npos ? "?" : "&");
    url += "service=" + escape(service) + "&scope=" + escape(scope);
    t.username = user;
    t.password = pass;
  }
  RegistryHost realm_host = host;  // same TLS settings
  realm_host.headers.clear();
  {
    size_t sep = realm.find("://");
    realm_host.host = sep == std::string::npos ? realm : realm.substr(sep + 3, realm.find('/', sep + 3) - sep - 3);
  }
  Result r = perform(realm_host, url, {}, t, 0);
  if (r.code != CURLE_OK) {
    throw Error(ErrorKind::kUnavailable, t.what + ": " + r.curl_error);
  }
  if (r.status == 401 || r.status == 403) {
    throw Error(ErrorKind::kPermissionDenied, "pulling " + ref_.string() + ": the token service " + realm +
                                                  " refused the credentials (HTTP " + std::to_string(r.status) + ") " +
                                                  snippet(r.body));
  }
  if (r.status != 200) {
    throw Error(ErrorKind::kUnavailable, t.what + ": HTTP " + std::to_string(r.status) + " " + snippet(r.body));
  }
  std::string token;
  int64_t expires_in = 60;
  try {
    auto doc = nlohmann::json::parse(r.body);
    if (doc.contains("token") && doc["token"].is_string()) token = doc["token"];
    if (token.empty() && doc.contains("access_token") && doc["access_token"].is_string()) token = doc["access_token"];
    if (doc.contains("expires_in") && doc["expires_in"].is_number_integer()) expires_in = doc["expires_in"];
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::kUnavailable, t.what + ": bad token response: " + e.what());
  }
  if (token.empty()) throw Error(ErrorKind::kUnavailable, t.what + ": the token response has no token");
  // Refresh a little early.
  client_.tokens().put(key, token, std::chrono::seconds(std::max<int64_t>(expires_in - 10, 10)));
  return token;
}

FetchedManifest RegistrySession::fetch_manifest(const std::string& reference) {
  bool by_digest = reference.find(':') != std::string::npos;
  Target t;
  t.what = "manifest " + ref_.name() + (by_digest ? "@" : ":") + reference;
  t.accept = media_types::kManifestAccept;
  t.limit = client_.options().max_manifest_bytes;
  t.cancelled = cancelled_ ? &cancelled_ : nullptr;
  std::exception_ptr last;
  for (const auto& host : hosts_) {
    if (by_digest ? !host.pull : !host.resolve) continue;
    try {
      Result r = request(host, "/" + ref_.path + "/manifests/" + reference, t);
      FetchedManifest m;
      m.bytes = std::move(r.body);
      m.content_type = r.headers["content-type"];
      m.digest = sha256_digest(m.bytes);
      if (by_digest && m.digest != reference) {
        throw Error(ErrorKind::kInvalidArgument, t.what + " from " + host.host + ": content digest " + m.digest +
                                                     " does not match the requested digest");
      }
      return m;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound && e.kind() != ErrorKind::kUnavailable) throw;
      spdlog::info("{}: {} (trying the next host if any)", host.host, e.what());
      last = std::current_exception();
    }
  }
  if (last) std::rethrow_exception(last);
  throw Error(ErrorKind::kFailedPrecondition, t.what + ": no host of " + ref_.domain + " may resolve it (capabilities)");
}

std::string RegistrySession::fetch_small_blob(const Descriptor& blob, uint64_t limit) {
  if (blob.size > limit) {
    throw Error(ErrorKind::kResourceExhausted, "blob " + blob.digest + " of " + ref_.name() + " is " +
                                                   std::to_string(blob.size) + " bytes, over the limit of " +
                                                   std::to_string(limit));
  }
  std::string bytes;
  fetch_blob(blob, 0, [&](const char* p, size_t n) {
    if (bytes.size() + n > blob.size) {
      throw Error(ErrorKind::kInvalidArgument, "blob " + blob.digest + " is larger than its descriptor says");
    }
    bytes.append(p, n);
  }, nullptr);
  if (bytes.size() != blob.size) {
    throw Error(ErrorKind::kInvalidArgument, "blob " + blob.digest + " is truncated: " + std::to_string(bytes.size()) +
                                                 " of " + std::to_string(blob.size) + " bytes");
  }
  if (sha256_digest(bytes) != blob.digest) {
    throw Error(ErrorKind::kInvalidArgument, "blob " + blob.digest + " of " + ref_.name() + " does not match its digest");
  }
  return bytes;
}

void RegistrySession::fetch_blob(const Descriptor& blob, uint64_t offset, const BlobSink& sink,
                                 const CancelCheck& cancelled) {
  Target t;
  t.what = "blob " + blob.digest + " of " + ref_.name();
  CancelCheck either = [&] { return (cancelled && cancelled()) || (cancelled_ && cancelled_()); };
  t.cancelled = &either;
  // Bytes of the blob the caller has (offset) or was given; a later host starts over and the
  // bytes the caller already has are dropped, so the sink sees every byte exactly once.
  uint64_t have = offset;
  uint64_t to_skip = 0;
  BlobSink deliver = [&](const char* p, size_t n) {
    size_t s = static_cast<size_t>(std::min<uint64_t>(to_skip, n));
    to_skip -= s;
    if (n > s) {
      sink(p + s, n - s);
      have += n - s;
    }
  };
  t.sink = &deliver;
  std::exception_ptr last;
  for (const auto& host : hosts_) {
    if (!host.pull) continue;
    to_skip = have;
    try {
      request(host, "/" + ref_.path + "/blobs/" + blob.digest, t);
      return;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound && e.kind() != ErrorKind::kUnavailable) throw;
      if (t.cancelled && (*t.cancelled)()) throw;
      spdlog::info("{}: {} (trying the next host if any)", host.host, e.what());
      last = std::current_exception();
    }
  }
  if (last) std::rethrow_exception(last);
  throw Error(ErrorKind::kFailedPrecondition, t.what + ": no host of " + ref_.domain + " may pull it (capabilities)");
}

}  // namespace crisp::image
