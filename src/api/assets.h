#pragma once

#include <string_view>

namespace corral::api {

// Documents compiled into the binary from the repository (CMake generates their definitions
// from docs/openapi.json and web/dashboard.html): nothing is read from disk at run time.

// The OpenAPI 3.1 description of every route, served at GET /api/v0/openapi.json.
std::string_view OpenApiDocument();
// The dashboard page (HTML with inline style and script), served at GET /ui.
std::string_view Dashboard();

}  // namespace corral::api
