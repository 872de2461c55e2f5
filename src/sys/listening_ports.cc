#include "sys/listening_ports.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include "sys/proc_stat.h"

namespace corral::sys {
namespace {

// The TCP state LISTEN in /proc/net/tcp (TCP_LISTEN of include/net/tcp_states.h).
constexpr std::string_view kListenState = "0A";

using Inode = std::uint64_t;

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

}  // namespace

std::vector<std::uint16_t> ListeningPorts(std::span<const pid_t> pids) {
  std::vector<std::uint16_t> ports;
  std::vector<Inode> sockets;
  std::vector<std::pair<dev_t, ino_t>> namespaces_read;
  std::vector<std::pair<Inode, std::uint16_t>> listeners;
  std::string table;
  for (pid_t pid : pids) {
    sockets.clear();
    AppendSocketInodes(pid, sockets);
    if (sockets.empty()) continue;
    // The listeners of this process's network namespace, read once per namespace.
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/ns/net", pid);
    struct stat ns {};
    if (::stat(path, &ns) != 0) continue;
    const std::pair<dev_t, ino_t> ns_id{ns.st_dev, ns.st_ino};
    if (std::find(namespaces_read.begin(), namespaces_read.end(), ns_id) == namespaces_read.end()) {
      namespaces_read.push_back(ns_id);
      for (const char* file : {"tcp", "tcp6"}) {
        std::snprintf(path, sizeof path, "/proc/%d/net/%s", pid, file);
        if (ReadProcFile(path, table)) AppendListeners(table, listeners);
      }
      std::sort(listeners.begin(), listeners.end());
    }
    // Socket inodes are unique across namespaces (one sockfs), so one list serves them all.
    for (Inode inode : sockets) {
      auto it =
          std::lower_bound(listeners.begin(), listeners.end(), std::pair{inode, std::uint16_t{0}});
      if (it != listeners.end() && it->first == inode) ports.push_back(it->second);
    }
  }
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return ports;
}

}  // namespace corral::sys
