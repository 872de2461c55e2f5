#include "api/chat_id.h"

#include <algorithm>
#include <boost/uuid/string_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <cctype>

namespace corral::api {

std::string CanonicalUuid(std::string_view text) {
  // string_generator takes liberties (dashes anywhere); only let through the layouts clients
  // actually send, before parsing.
  // Go's uuid.Parse: "urn:uuid:" (any case) or braces around the dashed form.
  constexpr std::string_view kUrn = "urn:uuid:";
  if (text.size() == kUrn.size() + 36 &&
      std::equal(kUrn.begin(), kUrn.end(), text.begin(),
                 [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
    text.remove_prefix(kUrn.size());
  } else if (text.size() == 38 && text.front() == '{' && text.back() == '}') {
    text = text.substr(1, 36);
  }
  if (text.size() == 36) {
    for (std::size_t i : {8u, 13u, 18u, 23u}) {
      if (text[i] != '-') return {};
    }
  } else if (text.size() != 32) {
    return {};
  }
  for (char c : text) {
    if (c != '-' && !std::isxdigit(static_cast<unsigned char>(c))) return {};
  }
  try {
    return boost::uuids::to_string(boost::uuids::string_generator()(text.begin(), text.end()));
  } catch (const std::exception&) {
    return {};
  }
}

std::string ParseChatId(std::string_view header) {
  std::string id = CanonicalUuid(header);
  if (id == "00000000-0000-0000-0000-000000000000") return {};
  return id;
}

}  // namespace corral::api
