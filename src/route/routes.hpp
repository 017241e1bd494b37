// /v1/route (shortest path) and /v1/route/matrix on the in-memory street graphs.
#pragma once

#include "registry/registry.hpp"
#include "route/router_cache.hpp"

namespace wangge::http {
class RouteTable;
}

namespace wangge::route {

void add_routes(http::RouteTable& routes, registry::Registry& registry, const RouterCache& cache);

}  // namespace wangge::route
