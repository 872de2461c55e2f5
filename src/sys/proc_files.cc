#include "sys/proc_files.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/unique_fd.h"

namespace corral::sys {
namespace {

std::error_code Errno() { return {errno, std::system_category()}; }

}  // namespace

std::error_code ReadFile(const std::string& path, std::string& out) {
  base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Errno();
  return ReadToEnd(fd.get(), out);
}

std::error_code ReadToEnd(int fd, std::string& out) {
  const std::size_t start = out.size();
  if (out.capacity() - start < 4096) out.reserve(start + 4096);
  for (;;) {
    const std::size_t used = out.size();
    if (out.capacity() - used < 1024) out.reserve(out.capacity() * 2);
    out.resize(out.capacity());
    const ssize_t n =
        ::pread(fd, out.data() + used, out.size() - used, static_cast<off_t>(used - start));
    const std::error_code ec = n < 0 ? Errno() : std::error_code();
    out.resize(used + static_cast<std::size_t>(n > 0 ? n : 0));
    if (ec == std::errc::interrupted) continue;
    if (ec) return ec;
    if (n == 0) return {};
  }
}

std::error_code WriteFile(const std::string& path, std::string_view text) {
  base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return Errno();
  ssize_t n;
  do {
    n = ::write(fd.get(), text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Errno();
  return static_cast<std::size_t>(n) == text.size() ? std::error_code{}
                                                    : std::make_error_code(std::errc::io_error);
}

}  // namespace corral::sys
