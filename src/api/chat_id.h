#pragma once

#include <string>
#include <string_view>

namespace corral::api {

// The chat a request speaks for, from its Coder-Chat-Id header: the UUID in canonical
// lower-case form, or empty ("no chat") for a missing, empty, nil or malformed value.
std::string ParseChatId(std::string_view header);

// The canonical form of a UUID (lower case, dashed), or empty if `text` is not one. Accepts
// exactly the forms Go's uuid.Parse accepts: the dashed 36-character form, the same prefixed
// with "urn:uuid:" (in any case) or in braces, and 32 hex digits without dashes; hex digits
// in any case.
std::string CanonicalUuid(std::string_view text);

}  // namespace corral::api
