#pragma once

#include <cstddef>
#include <string>

namespace corral::testing {

// The bytes `child_helper print N` writes: printable, with a newline every 64 bytes, so that
// byte-exact expectations can be computed in the test.
inline char PatternByte(std::size_t i) {
  return i % 64 == 63 ? '\n' : static_cast<char>('a' + (i * 7 + i / 64) % 26);
}

inline std::string Pattern(std::size_t n, std::size_t from = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = PatternByte(from + i);
  return s;
}

}  // namespace corral::testing
