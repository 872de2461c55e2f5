#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace corral::server {

// Compares without an early exit, so the time taken says nothing about where a guess differs
// (nor, beyond the loop over the guess, about the token's length).
bool ConstantTimeEquals(std::string_view expected, std::string_view given);

// True iff `authorization` is "Bearer <token>" (scheme case-insensitive) with this token.
bool BearerMatches(std::string_view authorization, std::string_view token);

// Takes $CORRAL_TOKEN out of this process's environment and returns it (nullopt when unset or
// empty). Commands must not read it: unsetenv alone keeps the bytes in the environment block
// the kernel shows in /proc/<pid>/environ (readable by every process of our user), so the
// value is overwritten there in place first. Call once at start, before threads read the
// environment.
std::optional<std::string> TakeTokenFromEnvironment();

// The token a TCP listener requires: the first of --token-file, `env_token` (from
// TakeTokenFromEnvironment), or the default file (created 0600 with a fresh random token when
// missing). Sets `where` to a description of the source, for the log; the token itself is
// never logged. Returns nullopt with `error` set when the chosen source is unusable.
std::optional<std::string> LoadToken(const std::string& token_file,
                                     const std::optional<std::string>& env_token,
                                     const std::string& default_file, std::string& where,
                                     std::string& error);

}  // namespace corral::server
