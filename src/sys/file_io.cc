#include "sys/file_io.h"

#include <unistd.h>

#include <cerrno>

#include "sys/fault.h"

namespace corral::sys {

std::error_code WriteAt(int fd, std::string_view bytes, std::uint64_t offset) {
  if (int e = TakeFault(Call::kSpoolWrite)) return {e, std::system_category()};
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return {errno, std::system_category()};
    }
    // A regular file writes everything unless the disk fills up; the retry then reports why.
    bytes.remove_prefix(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return {};
}

std::error_code ReadAt(int fd, char* out, std::size_t size, std::uint64_t offset,
                       std::size_t& read) {
  read = 0;
  while (read < size) {
    const ssize_t n = ::pread(fd, out + read, size - read, static_cast<off_t>(offset + read));
    if (n < 0) {
      if (errno == EINTR) continue;
      return {errno, std::system_category()};
    }
    if (n == 0) break;  // end of file
    read += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace corral::sys
