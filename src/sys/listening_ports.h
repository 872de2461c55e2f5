#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace corral::sys {

// The TCP sockets (IPv4 and IPv6) in state LISTEN, as (socket inode, port), read at most once
// per network namespace over the life of the object: one object serves a whole refresh of many
// commands, the next refresh takes a new one to see new listeners.
//
// The listeners of our own network namespace come from the kernel's socket diagnostics
// (NETLINK_SOCK_DIAG, filtered to LISTEN by the kernel: its cost grows with the listening
// sockets only); those of another namespace, or where netlink is refused, from
// /proc/PID/net/tcp and tcp6 (whose cost grows with the size of the kernel's TCP hash tables,
// about a millisecond each even when nearly empty).
class TcpListeners {
 public:
  // The ports on which some process among `pids` holds a listening socket, sorted ascending,
  // without duplicates. A socket counts when one of the processes has it open (a descriptor
  // whose /proc/PID/fd link is "socket:[INODE]") and it listens. A socket that is bound but not
  // listening, connected, UDP or closed does not count; nor does one held only by a process
  // outside `pids`. Processes that are gone or unreadable are skipped. Cost per process: a
  // listing of its descriptors and a readlink each; the namespace's listeners are read only
  // when some process holds a socket.
  std::vector<std::uint16_t> PortsOf(std::span<const pid_t> pids);

 private:
  using Inode = std::uint64_t;
  // Reads the listeners of `pid`'s network namespace into listeners_ unless done already.
  void ReadNamespaceOf(pid_t pid);

  std::vector<std::pair<std::uint64_t, std::uint64_t>> namespaces_read_;  // (dev, inode)
  std::vector<std::pair<Inode, std::uint16_t>> listeners_;                // sorted
};

// TcpListeners().PortsOf(pids), for one command.
std::vector<std::uint16_t> ListeningPorts(std::span<const pid_t> pids);

}  // namespace corral::sys
