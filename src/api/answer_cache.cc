#include "api/answer_cache.h"

namespace corral::api {

std::shared_ptr<const std::string> AnswerCache::Get(const std::string& key, std::uint64_t version) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  if (it->second->version != version) {
    Erase(it->second);
    return nullptr;
  }
  order_.splice(order_.begin(), order_, it->second);
  return it->second->value;
}

void AnswerCache::Put(const std::string& key, std::uint64_t version,
                      std::shared_ptr<const std::string> value) {
  if (auto it = index_.find(key); it != index_.end()) Erase(it->second);
  if (value->size() > max_bytes_) return;
  bytes_ += value->size();
  order_.push_front({key, version, std::move(value)});
  index_.emplace(key, order_.begin());
  while (bytes_ > max_bytes_) Erase(std::prev(order_.end()));
}

void AnswerCache::Erase(Order::iterator it) {
  bytes_ -= it->value->size();
  index_.erase(it->key);
  order_.erase(it);
}

}  // namespace corral::api
