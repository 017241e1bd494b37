// Routes the console needs that describe rules rather than data: GET /v1/incidents/lifecycle
// (the case lifecycle and categories). It lives here, beside the site's routes, so that the
// incidents module's routes stay as they are.
#pragma once

#include "incidents/store.hpp"
#include "registry/registry.hpp"

namespace wangge::http {
class RouteTable;
}

namespace wangge::app {

void add_console_routes(http::RouteTable& routes, registry::Registry& registry, const incidents::IncidentStore& cases);

}  // namespace wangge::app
