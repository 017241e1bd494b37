// The site's own routes: / (the map page), /health, /api (OpenAPI), /api/errors (the catalogue).
#pragma once

#include "pg/pool.hpp"

namespace wangge::http {
class RouteTable;
}

namespace wangge::app {

void add_site_routes(http::RouteTable& routes, pg::Pool& pool);

}  // namespace wangge::app
