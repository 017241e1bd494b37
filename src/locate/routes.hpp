// /v1/locate: point to grid, one point (GET, answered on the event loop when it can) or many (POST,
// streamed). The work is done by the in-memory Locator; nothing here touches the database except
// `at=` on a moment the locator has not cached yet.
#pragma once

#include "locate/service.hpp"
#include "registry/registry.hpp"

namespace wangge::http {
class RouteTable;
}

namespace wangge::locate {

void add_routes(http::RouteTable& routes, registry::Registry& registry, Locator& locator);

}  // namespace wangge::locate
