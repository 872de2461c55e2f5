#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "proc/process.h"
#include "proc/process_table.h"
#include "sys/listening_ports.h"

namespace corral::proc {

// The TCP ports a command listens on (DESIGN §7.3), sorted ascending, without duplicates.
using Ports = std::vector<std::uint16_t>;

// Measures the listening ports of commands for one answer: the machine's listening sockets are
// read at most once per object (once per network namespace), however many commands it is asked
// about, so one `list` pays for them once. Take a new one for each answer or poll: an old one
// does not see listeners that appeared since. On the loop thread, while `table` lives.
class PortScan {
 public:
  explicit PortScan(ProcessTable& table) : table_(table) {}

  // The ports on which some process of `process` (ProcessTable::Members) listens now: `[]` for
  // a running command that listens on nothing; nullopt once it is done (the field is then left
  // out). Kept as the command's last measure (ProcessTable::RefreshPorts), so that an answer
  // about many commands shows none older. Cost: a listing of each member's descriptors; the
  // listeners are read only when some member holds a socket.
  std::optional<Ports> ListeningPorts(const Process& process);

 private:
  ProcessTable& table_;
  sys::TcpListeners listeners_;
};

}  // namespace corral::proc
