#include "sys/nofile_limit.h"

#include <atomic>
#include <cerrno>

namespace corral::sys {
namespace {

rlimit g_original;
std::atomic<bool> g_recorded{false};

}  // namespace

std::error_code RaiseNofileLimit() {
  rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return {errno, std::system_category()};
  if (!g_recorded.load(std::memory_order_acquire)) {
    g_original = limit;
    g_recorded.store(true, std::memory_order_release);
  }
  if (limit.rlim_cur == limit.rlim_max) return {};
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) return {errno, std::system_category()};
  return {};
}

rlimit OriginalNofileLimit() {
  if (g_recorded.load(std::memory_order_acquire)) return g_original;
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  return limit;
}

}  // namespace corral::sys
