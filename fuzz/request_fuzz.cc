// libFuzzer: the JSON request decoders of POST /start and POST /{id}/signal.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "api/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto start = corral::api::DecodeStart(body);
  if (auto* spec = std::get_if<corral::proc::StartSpec>(&start)) {
    // What the decoder lets through, the spawn can take: a non-empty command, no NULs.
    if (spec->command.empty() || spec->command.find('\0') != std::string::npos) std::abort();
    for (const auto& [key, value] : spec->env) {
      if (key.empty() || key.find('=') != std::string::npos) std::abort();
      if (key.find('\0') != std::string::npos || value.find('\0') != std::string::npos)
        std::abort();
    }
  } else if (std::get<corral::api::ApiError>(start).status != 400) {
    std::abort();
  }
  auto signal = corral::api::DecodeSignal(body);
  if (auto* e = std::get_if<corral::api::ApiError>(&signal); e && e->status != 400) std::abort();
  return 0;
}
