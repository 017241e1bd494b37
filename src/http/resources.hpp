// Files compiled into the executable (api/openapi.yaml, api/errors.md, the landing page).
#pragma once

#include <optional>
#include <string_view>

namespace wangge::http {

// `name` is the path relative to the source tree, e.g. "api/openapi.yaml".
std::optional<std::string_view> resource(std::string_view name);

}  // namespace wangge::http
