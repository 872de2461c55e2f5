#include "server/auth.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/text_file.h"
#include "base/unique_fd.h"

extern char** environ;

namespace corral::server {
namespace {

// 32 random bytes: 256 bits, as hex.
constexpr std::size_t kTokenBytes = 32;

std::optional<std::string> ReadFile(const std::string& path, std::string& error) {
  std::optional<std::string> token = base::ReadTrimmedFile(path);
  if (!token) {
    error = "cannot read token file " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  if (token->empty()) {
    error = "token file " + path + " is empty";
    return std::nullopt;
  }
  return token;
}

std::optional<std::string> NewToken(std::string& error) {
  unsigned char bytes[kTokenBytes];
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    error = std::string("getrandom: ") + std::strerror(errno);
    return std::nullopt;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  return token;
}

}  // namespace

bool ConstantTimeEquals(std::string_view expected, std::string_view given) {
  unsigned char diff = expected.size() == given.size() ? 0 : 1;
  if (expected.empty()) return false;
  for (std::size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned char>(expected[i % expected.size()] ^ given[i]);
  }
  return diff == 0;
}

bool BearerMatches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return false;
  }
  authorization.remove_prefix(kScheme.size());
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  while (!authorization.empty() && authorization.back() == ' ') authorization.remove_suffix(1);
  return ConstantTimeEquals(token, authorization);
}

std::optional<std::string> TakeTokenFromEnvironment() {
  constexpr std::string_view kName = "CORRAL_TOKEN=";
  char* entry = nullptr;
  for (char** e = environ; e && *e; ++e) {
    if (std::string_view(*e).starts_with(kName)) entry = *e;
  }
  if (!entry) return std::nullopt;
  std::string token = base::Trim(entry + kName.size());
  ::unsetenv("CORRAL_TOKEN");
  // The entry lies in the block the kernel set up at exec (or in a setenv copy, which is as
  // well cleared); once unset, nothing refers to it. Clearing the name too leaves no trace
  // that a token was given.
  ::explicit_bzero(entry, std::strlen(entry));
  if (token.empty()) return std::nullopt;
  return token;
}

std::optional<std::string> LoadToken(const std::string& token_file,
                                     const std::optional<std::string>& env_token,
                                     const std::string& default_file, std::string& where,
                                     std::string& error) {
  if (!token_file.empty()) {
    where = "the token file " + token_file;
    return ReadFile(token_file, error);
  }
  if (env_token) {
    where = "$CORRAL_TOKEN";
    return env_token;
  }
  where = "the token file " + default_file;
  struct stat st;
  if (::stat(default_file.c_str(), &st) == 0) {
    if (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
      error = "refusing token file " + default_file + ": it must be owned by us with mode 0600";
      return std::nullopt;
    }
    return ReadFile(default_file, error);
  }
  auto token = NewToken(error);
  if (!token) return std::nullopt;
  base::UniqueFd fd(::open(default_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  std::string line = *token + "\n";
  if (!fd || ::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    error = "cannot write token file " + default_file + ": " + std::strerror(errno);
    return std::nullopt;
  }
  return token;
}

}  // namespace corral::server
