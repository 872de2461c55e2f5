#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace corral::proc {

// The first bytes a command writes, kept whole: how it started (the command echo, the first
// error) matters most to a reader.
inline constexpr std::size_t kHeadBytes = 16 * 1024;
// The last bytes, kept in a ring: how it ended (the summary, the final error) matters next.
inline constexpr std::size_t kTailBytes = 16 * 1024;

// A command's output as a bounded head and tail plus a count of everything written. Memory is
// at most kHeadBytes + kTailBytes whatever the command prints, and is only taken as output
// arrives: a silent command costs nothing here.
class OutputBuffer {
 public:
  // The buffer a live one holds after `total` bytes, rebuilt from those bytes' start and end:
  // `head` is their first min(total, kHeadBytes) bytes, `tail` the last min(total - head,
  // kTailBytes) bytes after the head. Render gives the same text byte for byte.
  // REQUIRES: head and tail have exactly those sizes.
  static OutputBuffer FromParts(std::string_view head, std::string_view tail, std::uint64_t total);

  void Append(std::string_view bytes);

  // Every byte ever appended.
  std::uint64_t total() const { return total_; }
  // The first min(total, kHeadBytes) bytes.
  std::string_view head() const { return head_; }
  // The last bytes after the head, oldest first: all of them when total <= kHeadBytes +
  // kTailBytes, else the last kTailBytes.
  std::string tail() const;

 private:
  std::string head_;
  std::unique_ptr<char[]> ring_;  // kTailBytes, allocated when the head is full
  std::size_t ring_next_ = 0;     // where the next tail byte goes
  std::size_t ring_size_ = 0;     // bytes held in the ring
  std::uint64_t total_ = 0;
};

// Lines longer than this many bytes are cut...
inline constexpr std::size_t kMaxLineBytes = 2048;
// ...to their first bytes, then this marker, so that a cut line is exactly kMaxLineBytes long.
inline constexpr std::string_view kLineCutMarker = " ... [truncated]";
inline constexpr std::size_t kCutLineBytes = kMaxLineBytes - kLineCutMarker.size();

// Why the rendered text is not the whole output byte for byte.
struct Truncation {
  std::uint64_t original_bytes = 0;   // everything the command wrote
  std::uint64_t retained_bytes = 0;   // raw output bytes the text still represents
  std::uint64_t omitted_bytes = 0;    // bytes left out between head and tail
  std::uint64_t lines_truncated = 0;  // lines cut to kMaxLineBytes
  // original_bytes - retained_bytes - omitted_bytes is what the line cuts dropped.
};

struct RenderedOutput {
  std::string text;                      // always valid UTF-8
  std::optional<Truncation> truncation;  // set iff text is not the whole output byte for byte
};

// Renders the buffer for a language model: head, then "... [omitted N bytes] ..." when the
// middle is gone, then tail; long lines cut; never a character split; invalid bytes as U+FFFD.
// Line lengths and byte counts are of the raw output, before invalid bytes are replaced.
RenderedOutput Render(const OutputBuffer& buffer);

}  // namespace corral::proc
