#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <stop_token>
#include <thread>

namespace corral::cli {

// Ctrl-C (SIGINT) as a sequence of stop requests, for a client blocked in a request: the n-th
// token handed out by Next() is stopped by the n-th SIGINT, whenever it comes (before or after
// Next() is called). While one exists, SIGINT no longer ends the process.
// REQUIRES: constructed before any other thread is started, so that every thread inherits the
// blocked SIGINT and only the watcher takes it.
class Interrupts {
 public:
  Interrupts();
  ~Interrupts();  // unblocks SIGINT again, dropping any not taken yet
  Interrupts(const Interrupts&) = delete;
  Interrupts& operator=(const Interrupts&) = delete;

  // The token the next SIGINT not yet handed out stops.
  std::stop_token Next();

 private:
  void Deliver();
  std::mutex mutex_;
  std::deque<std::stop_source> sources_;  // sources_[n]: stopped by the (n+1)-th SIGINT
  std::size_t delivered_ = 0;             // SIGINTs received
  std::size_t handed_out_ = 0;            // tokens handed out by Next()
  std::jthread watcher_;
};

}  // namespace corral::cli
