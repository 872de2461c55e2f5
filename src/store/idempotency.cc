#include "store/idempotency.h"

#include <openssl/evp.h>

#include <cassert>

namespace corral::store {
namespace {

// Appends `tag`, the length of `value` and `value` itself, so that no two different field
// lists serialise to the same bytes (a value can never be mistaken for a separator).
void Append(std::string& out, char tag, std::string_view value) {
  out += tag;
  out += std::to_string(value.size());
  out += ':';
  out += value;
}

}  // namespace

bool IsValidIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxIdempotencyKeyBytes) return false;
  for (char c : key) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

std::string RequestDigest(const StartRequest& request) {
  std::string canonical = "corral-start-v1;";
  Append(canonical, 'c', request.command);
  Append(canonical, 'w', request.workdir);
  Append(canonical, 'e', std::to_string(request.env.size()));
  for (const auto& [name, value] : request.env) {
    Append(canonical, 'k', name);
    Append(canonical, 'v', value);
  }
  Append(canonical, 'b', request.background ? "1" : "0");
  Append(canonical, 's', request.stdin_mode);
  Append(canonical, 'r', std::to_string(request.tty_rows));
  Append(canonical, 'l', std::to_string(request.tty_cols));
  Append(canonical, 't', std::to_string(request.timeout_ms));

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  [[maybe_unused]] int ok =
      EVP_Digest(canonical.data(), canonical.size(), digest, &size, EVP_sha256(), nullptr);
  assert(ok == 1 && size == 32);  // SHA-256 of memory cannot fail short of a broken libcrypto
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * size);
  for (unsigned int i = 0; i < size; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

}  // namespace corral::store
