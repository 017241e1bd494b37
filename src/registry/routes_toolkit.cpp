// The grid managers' toolkit over HTTP: redraw (a PATCH of an area with adjust= or dry_run=), split,
// merge, re-parent, redistrict (PUT of a village's children), coverage and lineage.
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/log.hpp"
#include "geom/crs.hpp"
#include "http/params.hpp"
#include "http/router.hpp"
#include "registry/routes_toolkit.hpp"

namespace wangge::toolkit {
namespace {

using http::Request;
using http::Response;
using nlohmann::json;

OperationOptions operation_options(const Request& req) {
  OperationOptions o;
  o.srid = geom::parse_crs(http::crs_text(req));
  o.repair = http::bool_param(req, "repair", false);
  o.dry_run = http::bool_param(req, "dry_run", false);
  if (auto h = req.header("if-match")) o.if_match = registry::parse_if_match(*h);
  return o;
}

// After a committed operation: this process reads its own writes at once (as the registry's own
// writes do); a failure is only logged, the listener catches up through NOTIFY.
Response answer(registry::Registry& reg, pg::Connection& conn, OperationResult result) {
  reg.after_write(conn, result.changed);
  return http::json_response(200, result.body.dump());
}

// The operations that take a JSON body and change areas: authenticate, read the body, run in one
// transaction of their own (the toolkit's), answer with its report.
using Operation = std::function<OperationResult(pg::Connection&, const registry::Actor&, const Request&, const json&)>;
http::Handler operation(registry::Registry& reg, Operation op) {
  return [&reg, op = std::move(op)](const Request& req) {
    auto actor = reg.authenticate(req);
    auto pass = reg.expensive.enter("the operation");
    auto body = http::json_body(req);
    auto conn = reg.pool.acquire();
    return answer(reg, *conn, op(*conn, actor, req, body));
  };
}

}  // namespace

void add_routes(http::RouteTable& routes, registry::Registry& reg, const Toolkit& toolkit) {
  const Toolkit* t = &toolkit;
  routes.add("POST", "/v1/areas/merge",
             operation(reg, [t](pg::Connection& conn, const registry::Actor& actor, const Request& req, const json& body) {
               return t->merge(conn, actor, body, operation_options(req));
             }));
  // A redraw is a PATCH that names how neighbours follow (adjust=neighbours|none) or asks for a dry
  // run; a PATCH without either is the registry's plain update.
  for (const char* pattern : {"/v1/areas/{code}?adjust", "/v1/areas/{code}?dry_run"}) {
    routes.add("PATCH", pattern, [&reg, t](const Request& req) {
      const std::string adjust = req.param("adjust").value_or("none");
      if (adjust != "neighbours" && adjust != "none") throw bad_request("invalid_parameter", "adjust must be neighbours or none");
      auto actor = reg.authenticate(req);
      auto pass = reg.expensive.enter("the redraw");
      auto body = http::json_body(req);
      auto conn = reg.pool.acquire();
      return answer(reg, *conn, t->redraw(*conn, actor, req.path_param("code"), body, operation_options(req), adjust == "neighbours"));
    });
  }
  routes.add("POST", "/v1/areas/{code}/split",
             operation(reg, [t](pg::Connection& conn, const registry::Actor& actor, const Request& req, const json& body) {
               return t->split(conn, actor, req.path_param("code"), body, operation_options(req));
             }));
  routes.add("POST", "/v1/areas/{code}/reparent",
             operation(reg, [t](pg::Connection& conn, const registry::Actor& actor, const Request& req, const json& body) {
               return t->reparent(conn, actor, req.path_param("code"), body, operation_options(req));
             }));
  routes.add("PUT", "/v1/areas/{code}/children",
             operation(reg, [t](pg::Connection& conn, const registry::Actor& actor, const Request& req, const json& body) {
               return t->redistrict(conn, actor, req.path_param("code"), body, operation_options(req));
             }));
  routes.add("GET", "/v1/areas/{code}/coverage", [&reg, t](const Request& req) {
    auto actor = reg.authenticate(req);
    const std::string& code = req.path_param("code");
    actor.require_read(code);
    auto pass = reg.expensive.enter("the coverage");
    auto conn = reg.pool.acquire();
    return http::json_response(200, t->coverage(*conn, code, geom::parse_crs(http::crs_text(req))).dump());
  });
  routes.add("GET", "/v1/areas/{code}/lineage", [&reg, t](const Request& req) {
    auto actor = reg.authenticate(req);
    const std::string& code = req.path_param("code");
    actor.require_read(code);
    return http::json_response(200, t->lineage(*reg.pool.acquire(), code).dump());
  });
}

}  // namespace wangge::toolkit
