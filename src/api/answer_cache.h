#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

namespace corral::api {

// Encoded answers kept while they cannot have changed, bounded in total bytes: past the bound
// the least recently used go first. Each entry carries the version of what it was made from
// (a table generation, an output size...), and answers only for that version.
class AnswerCache {
 public:
  explicit AnswerCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // The answer cached for `key` at `version`, or null.
  std::shared_ptr<const std::string> Get(const std::string& key, std::uint64_t version);
  // Caches `value` for `key` at `version`, replacing what was there. A value larger than the
  // whole bound is not kept.
  void Put(const std::string& key, std::uint64_t version, std::shared_ptr<const std::string> value);

  std::size_t bytes() const { return bytes_; }
  std::size_t size() const { return index_.size(); }

 private:
  struct Entry {
    std::string key;
    std::uint64_t version;
    std::shared_ptr<const std::string> value;
  };
  using Order = std::list<Entry>;  // most recently used first
  void Erase(Order::iterator it);

  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  Order order_;
  std::unordered_map<std::string, Order::iterator> index_;
};

}  // namespace corral::api
