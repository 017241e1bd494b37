// The site's own routes: / (the map page), /console (the people's console), /health, /api (OpenAPI), /api/errors (the catalogue).
#pragma once

#include <functional>

#include "pg/pool.hpp"

namespace wangge::http {
class RouteTable;
}

namespace wangge::app {

// `ready` says whether every in-memory index has had its first load (/health answers 503
// "starting" until then).
void add_site_routes(http::RouteTable& routes, pg::Pool& pool, std::function<bool()> ready);

}  // namespace wangge::app
