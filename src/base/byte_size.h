#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace corral::base {

// A size in bytes as a user writes it: decimal digits and an optional suffix K, M or G (either
// case) for KiB, MiB, GiB (binary multiples: "64M" is 64 * 2^20). No sign, space, fraction or
// other suffix. nullopt when malformed or when the value does not fit in 64 bits.
std::optional<std::uint64_t> ParseByteSize(std::string_view text);

}  // namespace corral::base
