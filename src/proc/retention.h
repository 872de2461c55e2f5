#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/clock.h"

namespace corral::proc {

// Which done processes to forget, and when: each after the retention, and the oldest first
// whenever more than `cap` are remembered. Pure bookkeeping: the caller gives the times, so
// tests drive it with any clock.
class Retention {
 public:
  using TimePoint = base::SteadyClock::time_point;
  Retention(std::chrono::milliseconds retention, std::size_t cap)
      : retention_(retention), cap_(cap) {}

  // Remembers `id`, done at `done_at`. REQUIRES: not already remembered.
  void Add(const std::string& id, TimePoint done_at);
  // Forgets `id` if remembered.
  void Remove(const std::string& id);
  // The ids to forget at `now`: those past the retention, then the oldest beyond the cap;
  // they are no longer remembered on return.
  std::vector<std::string> TakeDue(TimePoint now);
  // Takes the oldest remembered id, if any (it is no longer remembered on return).
  std::optional<std::string> TakeOldest();
  // When TakeDue will next have something, if ever.
  std::optional<TimePoint> NextDue() const;
  std::size_t size() const { return index_.size(); }

 private:
  using Order = std::multimap<TimePoint, std::string>;
  std::chrono::milliseconds retention_;
  std::size_t cap_;
  Order by_done_;
  std::unordered_map<std::string, Order::iterator> index_;
};

}  // namespace corral::proc
