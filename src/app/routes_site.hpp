// The site's own routes: / (the map page), /console (the people's console), /health, /api
// (OpenAPI), /api/errors (the catalogue), and the operator's: /ready (should a balancer send
// traffic here?) and /metrics (Prometheus).
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

// /ready: 503 `draining` once `draining` says so, `starting` until `loaded`, `database_unavailable`
// when no connection answers, `database_read_only` on a standby when `need_writable`; else 200.
// /metrics: every registered metric family (core/metrics.hpp), unauthenticated like /health:
// bind the server to a private address or keep /metrics off the public balancer.
void add_ops_routes(http::RouteTable& routes, pg::Pool& pool, std::function<bool()> loaded, std::function<bool()> draining,
                    bool need_writable);

}  // namespace wangge::app
