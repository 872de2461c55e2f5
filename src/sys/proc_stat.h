#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "base/unique_fd.h"

namespace corral::sys {

// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. Together
// with the pid it names one process for the life of the machine: a later process that reuses
// the pid has a later start time. nullopt when the process is gone or the file is unreadable.
// The command name (field 2) may hold spaces and parentheses: parsing starts after its last ')'.
std::optional<std::uint64_t> ProcessStartTime(pid_t pid);

// Every process on the machine now (the numeric entries of /proc). Empty if /proc cannot be
// read. For the one-time recovery scan only: ordinary work looks at our descendants.
std::vector<pid_t> ListAllProcesses();

// pidfd_open(pid): a descriptor that names this one process (never a later one with its pid),
// close-on-exec. Empty when the process is gone or the kernel refuses.
base::UniqueFd OpenPidfd(pid_t pid);

}  // namespace corral::sys
