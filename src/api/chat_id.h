#pragma once

#include <string>
#include <string_view>

namespace corral::api {

// The chat a request speaks for, from its Coder-Chat-Id header: the UUID in canonical
// lower-case form, or empty ("no chat") for a missing, empty, nil or malformed value.
std::string ParseChatId(std::string_view header);

// The canonical form of a UUID, or empty if `text` is not one. Accepts the forms Go's
// uuid.Parse accepts for the 36- and 32-digit layouts, with or without braces.
std::string CanonicalUuid(std::string_view text);

}  // namespace corral::api
