#include "proc/output_buffer.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "proc/utf8.h"

namespace corral::proc {

OutputBuffer OutputBuffer::FromParts(std::string_view head, std::string_view tail,
                                     std::uint64_t total) {
  assert(head.size() == std::min<std::uint64_t>(total, kHeadBytes));
  assert(tail.size() == std::min<std::uint64_t>(total - head.size(), kTailBytes));
  OutputBuffer buffer;
  buffer.Append(head);
  buffer.Append(tail);
  buffer.total_ = total;
  return buffer;
}

void OutputBuffer::Append(std::string_view bytes) {
  total_ += bytes.size();
  if (head_.size() < kHeadBytes) {
    const std::size_t n = std::min(bytes.size(), kHeadBytes - head_.size());
    if (head_.capacity() < kHeadBytes) head_.reserve(std::min(kHeadBytes, head_.size() + n + 256));
    head_.append(bytes.data(), n);
    bytes.remove_prefix(n);
    if (bytes.empty()) return;
  }
  if (!ring_) ring_ = std::make_unique<char[]>(kTailBytes);
  // Only the last kTailBytes of a large write can survive: skip the rest.
  if (bytes.size() > kTailBytes) bytes.remove_prefix(bytes.size() - kTailBytes);
  const std::size_t first = std::min(bytes.size(), kTailBytes - ring_next_);
  std::memcpy(ring_.get() + ring_next_, bytes.data(), first);
  std::memcpy(ring_.get(), bytes.data() + first, bytes.size() - first);
  ring_next_ = (ring_next_ + bytes.size()) % kTailBytes;
  ring_size_ = std::min(kTailBytes, ring_size_ + bytes.size());
}

std::string OutputBuffer::tail() const {
  std::string out;
  if (!ring_) return out;
  out.reserve(ring_size_);
  const std::size_t start = (ring_next_ + kTailBytes - ring_size_) % kTailBytes;
  const std::size_t first = std::min(ring_size_, kTailBytes - start);
  out.append(ring_.get() + start, first);
  out.append(ring_.get(), ring_size_ - first);
  return out;
}

namespace {

// Appends one stretch of raw output with the line rule applied and invalid bytes replaced.
// Returns the raw bytes the line cuts dropped; counts the cut lines in `lines_cut`.
std::uint64_t AppendLines(std::string_view raw, std::string& out, std::uint64_t& lines_cut) {
  std::uint64_t dropped = 0;
  while (!raw.empty()) {
    const std::size_t newline = raw.find('\n');
    const std::size_t line_end = newline == std::string_view::npos ? raw.size() : newline;
    std::string_view line = raw.substr(0, line_end);
    if (line.size() > kMaxLineBytes) {
      const std::size_t keep = utf8::PrefixWithin(line, kCutLineBytes);
      utf8::AppendSanitized(line.substr(0, keep), out);
      out.append(kLineCutMarker);
      dropped += line.size() - keep;
      ++lines_cut;
    } else {
      utf8::AppendSanitized(line, out);
    }
    if (newline == std::string_view::npos) break;
    out.push_back('\n');
    raw.remove_prefix(newline + 1);
  }
  return dropped;
}

}  // namespace

RenderedOutput Render(const OutputBuffer& buffer) {
  RenderedOutput result;
  Truncation t;
  t.original_bytes = buffer.total();
  const std::string tail = buffer.tail();
  std::uint64_t dropped = 0;

  if (buffer.total() <= kHeadBytes + kTailBytes) {
    // Head and tail are contiguous: join them with nothing in between.
    std::string whole;
    whole.reserve(buffer.head().size() + tail.size());
    whole.append(buffer.head());
    whole.append(tail);
    result.text.reserve(whole.size());
    dropped = AppendLines(whole, result.text, t.lines_truncated);
  } else {
    // Cut only between characters: a character split by the end of the head or by the start of
    // the tail goes with the omitted middle.
    std::string_view head = buffer.head();
    head = head.substr(0, utf8::CompletePrefix(head));
    std::string_view tail_view = tail;
    tail_view.remove_prefix(utf8::OrphanContinuations(tail_view));
    t.omitted_bytes = buffer.total() - head.size() - tail_view.size();

    result.text.reserve(head.size() + tail_view.size() + 64);
    dropped = AppendLines(head, result.text, t.lines_truncated);
    result.text += "\n\n... [omitted ";
    result.text += std::to_string(t.omitted_bytes);
    result.text += " bytes] ...\n\n";
    dropped += AppendLines(tail_view, result.text, t.lines_truncated);
  }

  t.retained_bytes = t.original_bytes - t.omitted_bytes - dropped;
  if (t.omitted_bytes > 0 || t.lines_truncated > 0) result.truncation = t;
  return result;
}

}  // namespace corral::proc
