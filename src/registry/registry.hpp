// The registry as every module's routes see it: the shared database pool, the area and worker
// stores, the in-memory area cache, and who is asking (tokens). Built once by `serve`; the other
// capability modules receive it explicitly instead of reaching into a global application object.
#pragma once

#include <string>
#include <vector>

#include "core/config.hpp"
#include "geom/geojson.hpp"
#include "http/gate.hpp"
#include "http/request.hpp"
#include "pg/pool.hpp"
#include "registry/areas.hpp"
#include "registry/auth.hpp"
#include "registry/codes.hpp"
#include "registry/snapshot.hpp"
#include "registry/workers.hpp"

namespace wangge::http {
class RouteTable;
}

namespace wangge::registry {

class Registry {
 public:
  explicit Registry(Config c)
      : config(std::move(c)),
        rules(config),
        pool(config.database_url, config.db_pool_size, config.statement_timeout_ms),
        areas(config, rules),
        expensive(config.max_expensive) {
    geom::set_geometry_limits({config.max_coordinates, config.max_parts});
  }
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Resolves the request's bearer token; throws unauthorized when it is missing or unknown.
  Actor authenticate(const http::Request& req);
  // True when the request's bearer token is known valid without asking the database (a fresh
  // TokenCache answer); false says nothing: authenticate() decides.
  bool authenticated_in_cache(const http::Request& req);

  // After a committed registry write: the area cache takes the change at once; the locator, tiles
  // and open cases follow on the listener thread, and the request waits for them up to 2 s.
  void after_write(pg::Connection& conn, const std::vector<std::string>& codes);

  // The current geometry of an area as hex WKB (EPSG:4490), for queries of other modules that
  // relate their own tables to an area (the streets a coverage walk must take); std::nullopt for
  // an unknown or retired code.
  std::optional<std::string> current_geometry_wkb(pg::Connection& conn, const std::string& code);

  Config config;
  CodeRules rules;
  pg::Pool pool;
  AreaStore areas;
  WorkerStore workers;
  TokenCache tokens;
  AreaCache cache;  // current areas in memory; the database stays the source of truth
  // Admits the requests that may cost seconds (exports, imports, toolkit, coverage, tours,
  // matrices, historical locate): `auto pass = reg.expensive.enter("the export");` in the route.
  http::CostGate expensive;
};

// /v1/areas (list, create, read, replace, update, retire, children, history, workers) and
// /v1/workers.
void add_routes(http::RouteTable& routes, Registry& registry);

}  // namespace wangge::registry
