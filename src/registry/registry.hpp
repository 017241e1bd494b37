// The registry as every module's routes see it: the shared database pool, the area and worker
// stores, the in-memory area cache, and who is asking (tokens). Built once by `serve`; the other
// capability modules receive it explicitly instead of reaching into a global application object.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "geom/geojson.hpp"
#include "http/gate.hpp"
#include "http/request.hpp"
#include "pg/pool.hpp"
#include "registry/accounts.hpp"
#include "registry/areas.hpp"
#include "registry/auth.hpp"
#include "registry/codes.hpp"
#include "registry/snapshot.hpp"
#include "registry/throttle.hpp"
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
        accounts(config),
        throttle(config.auth_free_failures),
        expensive(config.max_expensive) {
    geom::set_geometry_limits({config.max_coordinates, config.max_parts});
  }
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Who is asking: the token of the Authorization header (Bearer, or Basic with the token as the
  // password, for GIS clients), else the person of the session cookie (the console), whose writes
  // must carry the session's X-CSRF-Token. Throws unauthorized when neither is there or valid,
  // and 429 `too_many_failures` while the client's address backs off after wrong credentials.
  Actor authenticate(const http::Request& req);
  // The back-off of the client's address (AuthThrottle): sign-in counts its wrong passwords too.
  void refuse_while_backing_off(const std::string& client);
  void count_wrong_credential(const std::string& client);
  // True when the request's bearer token is known valid without asking the database (a fresh
  // TokenCache answer); false says nothing: authenticate() decides.
  bool authenticated_in_cache(const http::Request& req);

  // After a committed registry write: the area cache takes the change at once; the locator, tiles
  // and open cases follow on the listener thread, and the request waits for them up to 2 s.
  void after_write(pg::Connection& conn, const std::vector<std::string>& codes);
  // After a committed write to workers or their assignments: the server sets it to wait (up to
  // 2 s) until the locator's worker directory holds the write, so that the writer's next locate
  // or dispatch names the worker. Unset: nothing to wait for.
  std::function<void()> after_worker_write;

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
  Accounts accounts;      // people: passwords, sessions
  AuthThrottle throttle;  // per client address: back-off after repeated wrong credentials
  AreaCache cache;        // current areas in memory; the database stays the source of truth
  // Admits the requests that may cost seconds (exports, imports, toolkit, coverage, tours,
  // matrices, historical locate): `auto pass = reg.expensive.enter("the export");` in the route.
  http::CostGate expensive;
};

// /v1/areas (list, create, read, replace, update, retire, children, history, workers) and
// /v1/workers.
void add_routes(http::RouteTable& routes, Registry& registry);
// /v1/session: sign in, who am I, sign out, change my password (routes_session.cpp).
void add_session_routes(http::RouteTable& routes, Registry& registry);
// The value of the session cookie, if the request carries one.
std::optional<std::string> session_cookie(const http::Request& req);
inline constexpr const char* kSessionCookie = "wangge_session";

}  // namespace wangge::registry
