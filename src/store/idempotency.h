#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace corral::store {

// An Idempotency-Key is 1 to this many printable ASCII characters (DESIGN §7.4).
inline constexpr std::size_t kMaxIdempotencyKeyBytes = 255;

// True if `key` is a valid Idempotency-Key: 1 to 255 characters, each printable ASCII
// (0x20 space to 0x7E tilde). Anything else, an empty key included, answers 400.
bool IsValidIdempotencyKey(std::string_view key);

// The decoded start request, as far as it decides "the same request" for an idempotent start.
// Fill it with the defaults applied (stdin "null" when absent, tty 24x80 for `"tty": true`), so
// that a request spelling a default out is the same as one that leaves it out.
struct StartRequest {
  std::string command;
  std::string workdir;  // as requested; empty when not given
  std::map<std::string, std::string> env;
  bool background = false;
  std::string stdin_mode = "null";  // "null", "pipe" or "tty"
  int tty_rows = 0;                 // 0 and 0 when not on a terminal
  int tty_cols = 0;
  std::int64_t timeout_ms = 0;  // 0 when no deadline
};

// A stable digest of `request`: SHA-256 over a canonical, length-prefixed serialisation of
// every field (env in key order), as 64 lowercase hex digits. Two decoded requests have the
// same digest exactly when every field is equal; JSON spacing and key order never matter since
// they are gone once decoded. SHA-256 rather than a short hash because the digest stands for
// the request in the journal: a collision would replay another command's answer instead of
// answering 422, and the digest covers environment values, which must not be recoverable from
// the journal by brute force of a weak hash.
std::string RequestDigest(const StartRequest& request);

}  // namespace corral::store
