// The toolkit's routes on /v1/areas (see routes_toolkit.cpp for the list).
#pragma once

#include "registry/registry.hpp"
#include "registry/toolkit.hpp"

namespace wangge::http {
class RouteTable;
}

namespace wangge::toolkit {

void add_routes(http::RouteTable& routes, registry::Registry& registry, const Toolkit& toolkit);

}  // namespace wangge::toolkit
