#include "sys/fault.h"

#include <atomic>

namespace corral::sys {
namespace {

constexpr int kCalls = static_cast<int>(Call::kSpoolWrite) + 1;

struct Fault {
  std::atomic<int> error{0};
  std::atomic<int> remaining{0};
};

Fault g_faults[kCalls];

}  // namespace

void InjectFault(Call call, int error, int times) {
  Fault& f = g_faults[static_cast<int>(call)];
  f.error = error;
  f.remaining = times;
}

void ClearFaults() {
  for (Fault& f : g_faults) f.remaining = 0;
}

int TakeFault(Call call) {
  Fault& f = g_faults[static_cast<int>(call)];
  int left = f.remaining.load(std::memory_order_relaxed);
  while (left > 0) {
    if (f.remaining.compare_exchange_weak(left, left - 1)) return f.error;
  }
  return 0;
}

}  // namespace corral::sys
