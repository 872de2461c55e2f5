// libFuzzer: what Corral parses out of request headers and the request target: Coder-Chat-Id,
// Authorization, and the route with its path id and query.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/chat_id.h"
#include "api/route.h"
#include "server/auth.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const std::string chat = corral::api::ParseChatId(text);
  if (!chat.empty()) {
    // A chat id is always the canonical form, and canonical forms are fixed points.
    if (chat.size() != 36 || corral::api::ParseChatId(chat) != chat) std::abort();
    for (char c : chat) {
      if (!(c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) std::abort();
    }
  }

  if (corral::server::BearerMatches(text, "fuzz-token") &&
      text.find("fuzz-token") == std::string_view::npos) {
    std::abort();
  }

  for (std::string_view method : {"GET", "POST"}) {
    const corral::api::Route route = corral::api::ParseRoute(method, text);
    if (route.kind == corral::api::Route::Kind::kOutput ||
        route.kind == corral::api::Route::Kind::kSignal) {
      if (route.id.empty() || route.id.find('/') != std::string::npos) std::abort();
    }
    if (route.timeout > corral::api::kMaxWait) std::abort();
  }
  return 0;
}
