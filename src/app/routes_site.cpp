// The site's own public endpoints: landing page (the map), the console, health, readiness,
// metrics, the API description, the error catalogue.
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/metrics.hpp"
#include "app/routes_site.hpp"
#include "http/params.hpp"
#include "http/resources.hpp"
#include "http/router.hpp"

namespace wangge::app {
namespace {

using http::json_response;
using http::problem;
using http::Request;
using http::resource;
using http::Response;

Response text(int status, std::string_view body, std::string type) {
  Response r;
  r.status = status;
  r.body = std::string(body);
  r.content_type = std::move(type);
  return r;
}

Response health(pg::Pool& pool, const std::function<bool()>& ready) {
  // Until every in-memory index has its first load, most requests could only answer 503: a load
  // balancer or a supervisor must not send traffic yet.
  if (!ready()) return problem(503, "starting", "the server is loading its indexes; retry shortly", R"({"status":"starting"})");
  try {
    auto conn = pool.acquire(std::chrono::milliseconds(2000));
    conn->exec("health.ping", "SELECT 1");
  } catch (const Error&) {
    return problem(503, "database_unavailable", "the database cannot be reached; the server keeps retrying",
                   R"({"database":"unreachable"})");
  }
  return json_response(200, R"({"status":"ok","database":"ok"})");
}

// Whether this process should get traffic: not while it stops (a balancer moves on before the
// connections close), not before its indexes are loaded, not while the database cannot answer
// (or, when writable is asked for, while it is a standby: after a failover until the connection
// follows the new primary).
Response ready(pg::Pool& pool, const std::function<bool()>& loaded, const std::function<bool()>& draining, bool need_writable) {
  if (draining()) return problem(503, "draining", "the server is stopping; send requests to another one", R"({"status":"draining"})");
  if (!loaded()) return problem(503, "starting", "the server is loading its indexes; retry shortly", R"({"status":"starting"})");
  bool standby = false;
  try {
    auto conn = pool.acquire(std::chrono::milliseconds(1000));
    standby = conn->exec("ready.recovery", "SELECT pg_is_in_recovery()").get(0, 0) == "t";
  } catch (const std::exception&) {  // unreachable, or an answer that is an error (a server starting up)
    return problem(503, "database_unavailable", "the database cannot be reached; the server keeps retrying",
                   R"({"database":"unreachable"})");
  }
  if (standby && need_writable)
    return problem(503, "database_read_only", "the database this server reaches is a standby; writes would fail",
                   R"({"database":"standby"})");
  return json_response(200, standby ? R"({"status":"ok","database":"standby"})" : R"({"status":"ok","database":"primary"})");
}

}  // namespace

void add_ops_routes(http::RouteTable& routes, pg::Pool& pool, std::function<bool()> loaded, std::function<bool()> draining,
                    bool need_writable) {
  routes.add("GET", "/ready", [&pool, loaded = std::move(loaded), draining = std::move(draining), need_writable](const Request&) {
    return ready(pool, loaded, draining, need_writable);
  });
  routes.add("GET", "/metrics", [](const Request&) { return text(200, metrics::render(), metrics::kContentType); });
}

void add_site_routes(http::RouteTable& routes, pg::Pool& pool, std::function<bool()> ready) {
  routes.add("GET", "/", [](const Request&) { return text(200, *resource("tiles/index.html"), "text/html; charset=utf-8"); });
  routes.add("GET", "/console",
             [](const Request&) { return text(200, *resource("tiles/console/index.html"), "text/html; charset=utf-8"); });
  routes.add("GET", "/health", [&pool, ready = std::move(ready)](const Request&) { return health(pool, ready); });
  routes.add("GET", "/api",
             [](const Request&) { return text(200, *resource("api/openapi.yaml"), "application/vnd.oai.openapi;version=3.0"); });
  routes.add("GET", "/api/errors", [](const Request&) { return text(200, *resource("api/errors.md"), "text/markdown; charset=utf-8"); });
}

}  // namespace wangge::app
