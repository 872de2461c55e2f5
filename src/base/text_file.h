#pragma once

#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace corral::base {

// s without leading and trailing white space.
inline std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// The file's contents, trimmed (a token file's trailing newline goes); nullopt if unreadable.
inline std::optional<std::string> ReadTrimmedFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return Trim(ss.str());
}

}  // namespace corral::base
