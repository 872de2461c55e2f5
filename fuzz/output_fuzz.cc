// libFuzzer: the output buffer and renderer fed arbitrary bytes in arbitrary write sizes.
// Invariants: the text is valid UTF-8 and bounded; the counts add up; up to 32 KiB the result
// equals a simple reference model written independently below.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proc/output_buffer.h"
#include "proc/utf8.h"

namespace {

using namespace corral::proc;

// Aborts (a finding for libFuzzer) with the broken invariant named on stderr.
void Check(bool ok, const char* invariant) {
  if (ok) return;
  std::fprintf(stderr, "broken invariant: %s\n", invariant);
  std::abort();
}

// Reference: the length of a valid UTF-8 character at s[i], or 0 if none starts there.
std::size_t ValidAt(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const std::size_t n = s.size() - i;
  const unsigned c = b(0);
  auto cont = [&](std::size_t k) { return k < n && (b(k) & 0xC0) == 0x80; };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;
    if (c == 0xED && b(1) > 0x9F) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;
    if (c == 0xF4 && b(1) > 0x8F) return 0;
    return 4;
  }
  return 0;
}

// Reference rendering of output that fits whole: cut long lines between characters, then
// check only validity (the exact replacement policy is the unit tests' business).
std::string ReferenceCut(std::string_view all, std::uint64_t& lines_cut) {
  std::string out;
  std::size_t start = 0;
  while (start <= all.size()) {
    std::size_t end = all.find('\n', start);
    if (end == std::string_view::npos) end = all.size();
    std::string_view line = all.substr(start, end - start);
    if (line.size() > kMaxLineBytes) {
      std::size_t keep = 0;
      while (keep < line.size()) {
        std::size_t step = ValidAt(line, keep);
        if (step == 0) step = 1;
        if (keep + step > kCutLineBytes) break;
        keep += step;
      }
      out.append(line.substr(0, keep));
      out.append(kLineCutMarker);
      ++lines_cut;
    } else {
      out.append(line);
    }
    if (end == all.size()) break;
    out.push_back('\n');
    start = end + 1;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // The first two bytes choose the write size; the input is repeated to reach past 32 KiB.
  const std::size_t write_size = 1 + ((data[0] << 8) | data[1]) % 9000;
  const std::size_t repeat = 1 + data[0] % 24;
  std::string all;
  for (std::size_t r = 0; r < repeat; ++r)
    all.append(reinterpret_cast<const char*>(data + 2), size - 2);

  OutputBuffer buffer;
  for (std::size_t i = 0; i < all.size(); i += write_size) {
    buffer.Append(std::string_view(all).substr(i, write_size));
  }
  Check(!(buffer.total() != all.size()), "buffer.total() != all.size()");
  const RenderedOutput r = Render(buffer);

  Check(!(!utf8::IsValid(r.text)), "!utf8::IsValid(r.text)");
  // Bounded: each kept raw byte becomes at most 3 bytes (U+FFFD), each cut line gains its
  // marker, and the omission marker is short.
  const std::uint64_t kept = r.truncation ? r.truncation->retained_bytes : all.size();
  const std::uint64_t cuts = r.truncation ? r.truncation->lines_truncated : 0;
  Check(!(kept > kHeadBytes + kTailBytes), "kept > kHeadBytes + kTailBytes");
  Check(!(r.text.size() > 3 * kept + cuts * kLineCutMarker.size() + 64),
        "r.text.size() > 3 * kept + cuts * kLineCutMarker.size() + 64");
  if (r.truncation) {
    const Truncation& t = *r.truncation;
    Check(!(t.original_bytes != all.size()), "t.original_bytes != all.size()");
    Check(!(t.retained_bytes + t.omitted_bytes > t.original_bytes),
          "t.retained_bytes + t.omitted_bytes > t.original_bytes");
    Check(
        !((t.original_bytes - t.retained_bytes - t.omitted_bytes == 0) != (t.lines_truncated == 0)),
        "(t.original_bytes - t.retained_bytes - t.omitted_bytes == 0) != (t.lines_truncated == 0)");
    Check(!(t.omitted_bytes == 0 && all.size() > kHeadBytes + kTailBytes),
          "t.omitted_bytes == 0 && all.size() > kHeadBytes + kTailBytes");
  }

  if (all.size() <= kHeadBytes + kTailBytes) {
    std::uint64_t cut = 0;
    const std::string raw = ReferenceCut(all, cut);
    std::string expected;
    utf8::AppendSanitized(raw, expected);
    Check(!(r.text != expected), "r.text != expected");
    Check(!(r.truncation.has_value() != (cut > 0)), "r.truncation.has_value() != (cut > 0)");
  }
  return 0;
}
