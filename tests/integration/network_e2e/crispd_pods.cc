#include "tests/integration/network_e2e/crispd_pods.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "network/netlink.h"
#include "tests/support/cri_pods.h"

namespace crisp::test {

namespace fs = std::filesystem;
namespace v1 = ::runtime::v1;
using namespace std::chrono_literals;

void CrispdPodsTest::SetUp() {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
}

void CrispdPodsTest::TearDown() {
  if (crispd_ && crispd_->running()) remove_all_pods(crispd_->runtime(), /*stop_first=*/true);
  crispd_.reset();
}

void CrispdPodsTest::start_crispd(CrispdOptions options) {
  crispd_ = std::make_unique<CrispdFixture>(std::move(options));
  logs_ = crispd_->dir() + "/pod-logs";
  pull(crispd_->images(), images_->busybox.ref);
}

grpc::Status CrispdPodsTest::try_runp(const std::string& name, const PodSpec& spec, std::string* id) {
  auto config = pod_config(name, logs_);
  if (spec.host_port > 0) {
    auto* m = config.add_port_mappings();
    m->set_protocol(v1::TCP);
    m->set_container_port(spec.container_port);
    m->set_host_port(spec.host_port);
    m->set_host_ip(spec.host_ip);
  }
  return try_run_pod(crispd_->runtime(), config, id);
}

std::string CrispdPodsTest::runp(const std::string& name, const PodSpec& spec) {
  std::string id;
  auto status = try_runp(name, spec, &id);
  EXPECT_TRUE(status.ok()) << name << ": " << status.error_message();
  return id;
}

std::string CrispdPodsTest::start_container(const std::string& pod, const std::string& name,
                                            const std::vector<std::string>& command) {
  return crisp::test::start_container(crispd_->runtime(), pod, container_config(name, images_->busybox.ref, command));
}

v1::ExecSyncResponse CrispdPodsTest::exec(const std::string& container, const std::vector<std::string>& cmd,
                                          int timeout_s) {
  return crisp::test::exec(crispd_->runtime(), container, cmd, timeout_s);
}

v1::PodSandboxStatus CrispdPodsTest::pod_status(const std::string& pod) {
  return crisp::test::pod_status(crispd_->runtime(), pod).status();
}

std::vector<v1::PodSandbox> CrispdPodsTest::list_pods() { return crisp::test::list_pods(crispd_->runtime()); }

void CrispdPodsTest::remove_pod(const std::string& pod) { stop_and_remove_pod(crispd_->runtime(), pod); }

std::string CrispdPodsTest::serve_hello(const std::string& pod, int port) {
  return start_container(pod, "server", {"nc", "-ll", "-p", std::to_string(port), "-e", "echo", "hello"});
}

std::string CrispdPodsTest::sleeper(const std::string& pod) {
  return start_container(pod, "client", {"sleep", "3600"});
}

std::string CrispdPodsTest::nc_from(const std::string& container, const std::string& ip, int port) {
  std::string reply;
  for (int attempt = 0; attempt < 20 && reply.find("hello") == std::string::npos &&
                        reply.find("node") == std::string::npos;
       ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(100ms);
    reply = exec(container, {"sh", "-c", "echo | nc -w 2 " + ip + " " + std::to_string(port)}).stdout();
  }
  return reply;
}

// --- the node side ----------------------------------------------------------------------------

namespace {

bool fill_address(const std::string& ip, int port, sockaddr_storage& storage, socklen_t& len) {
  storage = {};
  if (ip.find(':') != std::string::npos) {
    auto& a = reinterpret_cast<sockaddr_in6&>(storage);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof a;
    return ::inet_pton(AF_INET6, ip.c_str(), &a.sin6_addr) == 1;
  }
  auto& a = reinterpret_cast<sockaddr_in&>(storage);
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  len = sizeof a;
  return ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr) == 1;
}

}  // namespace

std::string tcp_exchange(const std::string& ip, int port, int timeout_ms) {
  sockaddr_storage addr;
  socklen_t len = 0;
  if (!fill_address(ip, port, addr, len)) return "";
  UniqueFd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return "";
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS) return "";
  pollfd p{fd.get(), POLLOUT, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return "";
  int err = 0;
  socklen_t err_len = sizeof err;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &err_len);
  if (err != 0) return "";
  (void)::write(fd.get(), "\n", 1);
  std::string out;
  for (;;) {
    pollfd q{fd.get(), POLLIN, 0};
    if (::poll(&q, 1, timeout_ms) != 1) break;
    char buf[256];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string tcp_exchange_retry(const std::string& ip, int port) {
  std::string reply;
  for (int attempt = 0; attempt < 20 && reply.empty(); ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(100ms);
    reply = tcp_exchange(ip, port, 2000);
  }
  return reply;
}

int free_tcp_port() {
  UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int zero = 0;
  ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_any;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return 0;
  socklen_t len = sizeof addr;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin6_port);
}

NodeServer::NodeServer() {
  listener_.reset(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int zero = 0, one = 1;
  ::setsockopt(listener_.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  ::setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_any;
  if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener_.get(), 16) != 0) {
    ADD_FAILURE() << "NodeServer: cannot listen";
    return;
  }
  socklen_t len = sizeof addr;
  ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin6_port);
  thread_ = std::thread([this] {
    while (!stop_) {
      pollfd p{listener_.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) continue;
      UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) continue;
      (void)::write(conn.get(), "node\n", 5);
    }
  });
}

NodeServer::~NodeServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<std::string> links_on_bridge(const std::string& bridge) {
  network::RouteSocket sock;
  int index = network::link_index(sock, bridge);
  std::vector<std::string> names;
  if (index == 0) return names;
  for (const auto& link : network::list_links(sock)) {
    if (link.master == index) names.push_back(link.name);
  }
  return names;
}

std::vector<std::string> veth_links() {
  network::RouteSocket sock;
  std::vector<std::string> names;
  for (const auto& link : network::list_links(sock)) {
    if (link.name.rfind("veth", 0) == 0) names.push_back(link.name);
  }
  return names;
}

int nsfs_mounts_under(const std::string& prefix) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  int count = 0;
  while (std::getline(mountinfo, line)) {
    // id parent major:minor root mountpoint options ... - fstype source superoptions
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype;
    tail >> fstype;
    if (fstype == "nsfs" && (mount_point == prefix || mount_point.rfind(prefix + "/", 0) == 0)) ++count;
  }
  return count;
}

std::vector<std::string> ip_files_under(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return found;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string name = it->path().filename().string();
    in_addr a4{};
    in6_addr a6{};
    if (::inet_pton(AF_INET, name.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, name.c_str(), &a6) == 1) {
      found.push_back(name);
    }
  }
  return found;
}

std::string shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  ::pclose(pipe);
  return out;
}

std::string nft_table_listing(const std::string& family_and_table) {
  return shell("nft list table " + family_and_table + " 2>/dev/null");
}

int count_lines_with(const std::string& text, const std::string& needle) {
  std::istringstream lines(text);
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) count += line.find(needle) != std::string::npos;
  return count;
}

int count_occurrences(const std::string& text, const std::string& needle) {
  int count = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + needle.size())) ++count;
  return count;
}

}  // namespace crisp::test
