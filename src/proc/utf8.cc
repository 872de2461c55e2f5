#include "proc/utf8.h"

namespace corral::proc::utf8 {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

Step Decode(std::string_view s, std::size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  const std::size_t n = s.size() - i;
  const unsigned char c = p[0];
  if (c < 0x80) return {1, true};

  // The well-formed sequences of Unicode Table 3-7: the length, and the range allowed for the
  // second byte (later bytes are always 80..BF).
  std::size_t length;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlong forms
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    if (c == 0xF0) lo = 0x90;  // no overlong forms
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return {1, false};
  }

  std::size_t good = 1;
  if (n > 1 && p[1] >= lo && p[1] <= hi) {
    good = 2;
    while (good < length && good < n && IsContinuation(p[good])) ++good;
  }
  return {good, good == length};
}

namespace {

// Whether the invalid step at s[i] is a valid start cut short by the end of s.
bool CutByTheEnd(std::string_view s, std::size_t i, Step step) {
  const auto lead = static_cast<unsigned char>(s[i]);
  return !step.valid && i + step.length == s.size() && lead >= 0xC2 && lead <= 0xF4;
}

}  // namespace

std::size_t CompletePrefix(std::string_view s) {
  for (std::size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    const std::size_t i = s.size() - back;
    if (!IsContinuation(static_cast<unsigned char>(s[i]))) {
      // A valid start whose decoding runs into the end without completing was cut there.
      return CutByTheEnd(s, i, Decode(s, i)) ? i : s.size();
    }
  }
  return s.size();
}

std::size_t OrphanContinuations(std::string_view s) {
  std::size_t n = 0;
  while (n < 3 && n < s.size() && IsContinuation(static_cast<unsigned char>(s[n]))) ++n;
  return n;
}

std::size_t PrefixWithin(std::string_view s, std::size_t limit) {
  if (s.size() <= limit) return s.size();
  std::size_t i = 0;
  while (i < limit) {
    const Step step = Decode(s, i);
    // Only characters are kept whole; an invalid run may be cut anywhere, as what is kept of
    // it still becomes U+FFFD.
    const std::size_t length = step.valid ? step.length : 1;
    if (i + length > limit) break;
    i += length;
  }
  return i;
}

void AppendSanitized(std::string_view s, std::string& out) {
  std::size_t i = 0;
  while (i < s.size()) {
    // Copy the longest run of ASCII at once: the common case.
    std::size_t j = i;
    while (j < s.size() && static_cast<unsigned char>(s[j]) < 0x80) ++j;
    out.append(s.data() + i, j - i);
    i = j;
    if (i == s.size()) break;
    const Step step = Decode(s, i);
    if (step.valid) {
      out.append(s.data() + i, step.length);
    } else {
      out.append(kReplacement);
    }
    i += step.length;
  }
}

bool IsValid(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const Step step = Decode(s, i);
    if (!step.valid) return false;
    i += step.length;
  }
  return true;
}

Cut CutText(std::string_view raw, std::size_t limit, bool final) {
  std::size_t end = 0;
  while (end < raw.size()) {
    const Step step = Decode(raw, end);
    if (!final && CutByTheEnd(raw, end, step)) break;
    // The first unit is taken whatever its length: progress.
    if (end > 0 && end + step.length > limit) break;
    end += step.length;
    if (end >= limit) break;
  }
  Cut cut;
  cut.consumed = end;
  AppendSanitized(raw.substr(0, end), cut.text);
  return cut;
}

}  // namespace corral::proc::utf8
