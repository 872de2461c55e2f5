#include "cli/interrupts.h"

#include <signal.h>

#include <ctime>

namespace corral::cli {
namespace {

sigset_t InterruptSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

Interrupts::Interrupts() {
  const sigset_t set = InterruptSet();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  watcher_ = std::jthread([this](std::stop_token stop) {
    const sigset_t set = InterruptSet();
    // A short poll rather than a wake-up signal: the destructor has nothing to send it.
    const timespec poll{0, 100'000'000};
    while (!stop.stop_requested()) {
      if (::sigtimedwait(&set, nullptr, &poll) == SIGINT) Deliver();
    }
  });
}

Interrupts::~Interrupts() {
  watcher_.request_stop();
  watcher_.join();
  // Interrupts that came after the last look are already answered for: consume them rather
  // than have them end the process once unblocked.
  const sigset_t set = InterruptSet();
  const timespec now{0, 0};
  while (::sigtimedwait(&set, nullptr, &now) == SIGINT) {
  }
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void Interrupts::Deliver() {
  std::lock_guard lock(mutex_);
  while (sources_.size() <= delivered_) sources_.emplace_back();
  sources_[delivered_++].request_stop();
}

std::stop_token Interrupts::Next() {
  std::lock_guard lock(mutex_);
  while (sources_.size() <= handed_out_) sources_.emplace_back();
  return sources_[handed_out_++].get_token();
}

}  // namespace corral::cli
