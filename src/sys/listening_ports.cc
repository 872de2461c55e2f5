#include "sys/listening_ports.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/unique_fd.h"
#include "sys/proc_stat.h"

namespace corral::sys {
namespace {

// The TCP state LISTEN in /proc/net/tcp (TCP_LISTEN of include/net/tcp_states.h).
constexpr std::string_view kListenState = "0A";

using Inode = std::uint64_t;

// For the /proc tables' layout and the netlink dump alike.
static_assert(TCP_LISTEN == 10);

// Appends the inodes of the sockets `pid` holds open.
void AppendSocketInodes(pid_t pid, std::vector<Inode>& out) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/fd", pid);
  DIR* dir = ::opendir(path);
  if (dir == nullptr) return;
  constexpr std::string_view kPrefix = "socket:[";
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    char link[64];
    ssize_t n = ::readlinkat(::dirfd(dir), entry->d_name, link, sizeof link);
    if (n <= 0) continue;
    std::string_view target(link, static_cast<std::size_t>(n));
    if (!target.starts_with(kPrefix)) continue;
    target.remove_prefix(kPrefix.size());
    Inode inode = 0;
    if (std::from_chars(target.data(), target.data() + target.size(), inode).ec == std::errc{}) {
      out.push_back(inode);
    }
  }
  ::closedir(dir);
}

// Appends (inode, port) for every LISTEN row of a /proc/net/tcp or tcp6 table:
// "  sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid  timeout
// inode ..." with local_address as HEXADDR:HEXPORT.
void AppendListeners(std::string_view table, std::vector<std::pair<Inode, std::uint16_t>>& out) {
  const std::size_t header_end = table.find('\n');
  if (header_end == std::string_view::npos) return;
  table.remove_prefix(header_end + 1);
  while (!table.empty()) {
    const std::size_t eol = table.find('\n');
    std::string_view line = table.substr(0, eol);
    table.remove_prefix(eol == std::string_view::npos ? table.size() : eol + 1);
    std::string_view fields[10];
    std::size_t count = 0;
    while (count < 10) {
      const std::size_t start = line.find_first_not_of(' ');
      if (start == std::string_view::npos) break;
      line.remove_prefix(start);
      const std::size_t end = std::min(line.find(' '), line.size());
      fields[count++] = line.substr(0, end);
      line.remove_prefix(end);
    }
    if (count < 10 || fields[3] != kListenState) continue;
    const std::size_t colon = fields[1].rfind(':');
    if (colon == std::string_view::npos) continue;
    std::string_view port_hex = fields[1].substr(colon + 1);
    std::uint16_t port = 0;
    Inode inode = 0;
    if (std::from_chars(port_hex.data(), port_hex.data() + port_hex.size(), port, 16).ec !=
            std::errc{} ||
        std::from_chars(fields[9].data(), fields[9].data() + fields[9].size(), inode).ec !=
            std::errc{}) {
      continue;
    }
    out.emplace_back(inode, port);
  }
}

// Appends (inode, port) for every TCP socket of `family` listening in our own network
// namespace, from a NETLINK_SOCK_DIAG dump; false if netlink fails (the caller falls back).
bool AppendOwnListeners(int family, std::vector<std::pair<Inode, std::uint16_t>>& out) {
  base::UniqueFd sock(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!sock) return false;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.request.sdiag_family = static_cast<std::uint8_t>(family);
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = 1u << TCP_LISTEN;
  if (::send(sock.get(), &message, sizeof message, 0) != sizeof message) return false;
  const std::size_t start = out.size();
  alignas(nlmsghdr) char buffer[16384];
  for (;;) {
    ssize_t n = ::recv(sock.get(), buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    int left = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, left);
         h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) return true;
      if (h->nlmsg_type == NLMSG_ERROR) break;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) continue;
      const auto* socket = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      out.emplace_back(socket->idiag_inode, ntohs(socket->id.idiag_sport));
    }
  }
  out.resize(start);  // an error or a cut-off dump: what came is not the whole truth
  return false;
}

// The (dev, inode) of a network namespace, from /proc/PID/ns/net ("self" for ours).
std::optional<std::pair<std::uint64_t, std::uint64_t>> NetworkNamespace(const char* pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%s/ns/net", pid);
  struct stat ns {};
  if (::stat(path, &ns) != 0) return std::nullopt;
  return std::pair<std::uint64_t, std::uint64_t>{ns.st_dev, ns.st_ino};
}

}  // namespace

void TcpListeners::ReadNamespaceOf(pid_t pid) {
  const std::string pid_text = std::to_string(pid);
  const auto ns = NetworkNamespace(pid_text.c_str());
  if (!ns ||
      std::find(namespaces_read_.begin(), namespaces_read_.end(), *ns) != namespaces_read_.end()) {
    return;
  }
  namespaces_read_.push_back(*ns);
  const std::size_t before = listeners_.size();
  bool done = false;
  if (ns == NetworkNamespace("self")) {
    done = AppendOwnListeners(AF_INET, listeners_);
    if (done && !AppendOwnListeners(AF_INET6, listeners_)) {
      listeners_.resize(before);
      done = false;
    }
  }
  if (!done) {
    std::string table;
    for (const char* file : {"tcp", "tcp6"}) {
      const std::string path = "/proc/" + pid_text + "/net/" + file;
      if (ReadProcFile(path.c_str(), table)) AppendListeners(table, listeners_);
    }
  }
  std::sort(listeners_.begin(), listeners_.end());
}

std::vector<std::uint16_t> TcpListeners::PortsOf(std::span<const pid_t> pids) {
  std::vector<std::uint16_t> ports;
  std::vector<Inode> sockets;
  for (pid_t pid : pids) {
    sockets.clear();
    AppendSocketInodes(pid, sockets);
    if (sockets.empty()) continue;
    ReadNamespaceOf(pid);
    // Socket inodes are unique across namespaces (one sockfs), so one list serves them all.
    for (Inode inode : sockets) {
      auto it = std::lower_bound(listeners_.begin(), listeners_.end(),
                                 std::pair<Inode, std::uint16_t>{inode, 0});
      for (; it != listeners_.end() && it->first == inode; ++it) ports.push_back(it->second);
    }
  }
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return ports;
}

std::vector<std::uint16_t> ListeningPorts(std::span<const pid_t> pids) {
  return TcpListeners().PortsOf(pids);
}

}  // namespace corral::sys
