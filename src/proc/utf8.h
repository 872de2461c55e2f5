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

}  // namespace corral::proc::utf8
