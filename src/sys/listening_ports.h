#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <vector>

namespace corral::sys {

// The TCP ports (IPv4 and IPv6) on which some process among `pids` holds a listening socket,
// sorted ascending, without duplicates. A socket counts when one of the processes has it open
// (a descriptor whose /proc/PID/fd link is "socket:[INODE]") and it is in state LISTEN in the
// TCP tables of that process's network namespace (/proc/PID/net/tcp and tcp6, read once per
// namespace). A socket that is bound but not listening, connected, or closed does not count;
// nor does one held only by a process outside `pids`. Processes that are gone or unreadable are
// skipped. Cost: a listing of each process's descriptors and a readlink per descriptor; the
// tables are read only when some process holds a socket, and their size grows with the
// namespace's TCP sockets (all of the host's, in the host's namespace).
std::vector<std::uint16_t> ListeningPorts(std::span<const pid_t> pids);

}  // namespace corral::sys
