#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <system_error>

namespace corral::sys {

// Writes all of `bytes` at `offset` of `fd` with pwrite, retrying on EINTR and short writes.
// On failure some prefix of `bytes` may have been written. Tests can make it fail through
// InjectFault(Call::kSpoolWrite, ...).
std::error_code WriteAt(int fd, std::string_view bytes, std::uint64_t offset);

// Reads up to `size` bytes at `offset` of `fd` into `out` with pread, retrying on EINTR and
// short reads; `read` is how many arrived: fewer than `size` only at end of file.
std::error_code ReadAt(int fd, char* out, std::size_t size, std::uint64_t offset,
                       std::size_t& read);

}  // namespace corral::sys
