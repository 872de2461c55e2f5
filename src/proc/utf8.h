#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace corral::proc::utf8 {

// One step of decoding at s[i]: a whole valid character, or an invalid run.
struct Step {
  std::size_t length;  // >= 1; for an invalid run, its maximal subpart (Unicode 3.9, D93b)
  bool valid;
};

// REQUIRES: i < s.size().
Step Decode(std::string_view s, std::size_t i);

// The length of the longest prefix of s that does not end inside a character cut short by the
// end of s: drops at most 3 trailing bytes that start a valid but incomplete sequence.
std::size_t CompletePrefix(std::string_view s);

// How many leading bytes of s are continuation bytes (at most 3): the remains of a character
// whose start was cut off.
std::size_t OrphanContinuations(std::string_view s);

// The longest prefix of s no longer than `limit` that does not split a valid character
// (invalid bytes count one by one).
std::size_t PrefixWithin(std::string_view s, std::size_t limit);

// Appends s to out with every invalid run replaced by U+FFFD.
void AppendSanitized(std::string_view s, std::string& out);

bool IsValid(std::string_view s);

// A cursor read's text (DESIGN §7.2): the output from some offset cut at a character boundary.
//
// The units of a cut are whole characters and invalid runs (each run one U+FFFD, as its maximal
// subpart; continuation bytes at the start, when the offset falls inside a character, are such
// runs). A cut never splits a unit. It takes the units that fit within `limit` raw bytes, but
// at least the first complete unit however long it is (a read makes progress whenever a
// complete character exists, even with a limit of 0 or 1). A sequence cut short by the end of
// `raw` is left for a later read (it may still be completed), unless `final`: then no byte will
// ever follow, and it becomes one U+FFFD.
struct Cut {
  std::string text;          // valid UTF-8
  std::size_t consumed = 0;  // raw bytes the text stands for: the next read's offset moves by it
  // At least one complete unit was there (consumed > 0): what `wait=output` waits for.
  bool complete() const { return consumed > 0; }
};

// How many bytes past `limit` the caller must put in `raw` (when there are that many) for
// CutText to finish the character that straddles the limit.
inline constexpr std::size_t kCutLookahead = 3;
// How many raw bytes to fetch for a cut of `limit` bytes: limit + kCutLookahead, and at least
// one whole 4-byte character when the limit is 0.
constexpr std::size_t CutFetchBytes(std::size_t limit) {
  return (limit == 0 ? 1 : limit) + kCutLookahead;
}

// REQUIRES: raw holds the output from the read's offset on: CutFetchBytes(limit) bytes, or all
// there are so far. `final`: nothing will ever follow raw (the output ended there, or the next
// byte was dropped: store::SpoolChunk::hole_after).
Cut CutText(std::string_view raw, std::size_t limit, bool final);

}  // namespace corral::proc::utf8
