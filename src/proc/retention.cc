#include "proc/retention.h"

namespace corral::proc {

void Retention::Add(const std::string& id, TimePoint done_at) {
  index_.emplace(id, by_done_.emplace(done_at, id));
}

void Retention::Remove(const std::string& id) {
  auto it = index_.find(id);
  if (it == index_.end()) return;
  by_done_.erase(it->second);
  index_.erase(it);
}

std::vector<std::string> Retention::TakeDue(TimePoint now) {
  std::vector<std::string> due;
  while (!by_done_.empty() &&
         (by_done_.size() > cap_ || by_done_.begin()->first + retention_ <= now)) {
    auto oldest = by_done_.begin();
    index_.erase(oldest->second);
    due.push_back(std::move(oldest->second));
    by_done_.erase(oldest);
  }
  return due;
}

std::optional<std::string> Retention::TakeOldest() {
  if (by_done_.empty()) return std::nullopt;
  auto oldest = by_done_.begin();
  std::string id = std::move(oldest->second);
  index_.erase(id);
  by_done_.erase(oldest);
  return id;
}

std::optional<Retention::TimePoint> Retention::NextDue() const {
  if (by_done_.empty()) return std::nullopt;
  return by_done_.begin()->first + retention_;
}

}  // namespace corral::proc
