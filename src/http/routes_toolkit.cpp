// The grid managers' toolkit (issue 3) over HTTP. Runs before route_areas, and leaves it every path
// and method it does not own (returns std::nullopt).
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/log.hpp"
#include "geom/crs.hpp"
#include "http/context.hpp"
#include "http/params.hpp"

namespace wangge::http {
namespace {

using nlohmann::json;

toolkit::OperationOptions operation_options(const Request& req) {
  toolkit::OperationOptions o;
  o.srid = geom::parse_crs(req.param("crs").value_or(""));
  o.repair = bool_param(req, "repair", false);
  o.dry_run = bool_param(req, "dry_run", false);
  if (auto h = req.header("if-match")) o.if_match = registry::parse_if_match(*h);
  return o;
}

// After a committed operation: this process reads its own writes at once (as routes_areas does);
// a failure is only logged, the listener catches up through NOTIFY.
Response answer(App& app, pg::Connection& conn, toolkit::OperationResult result) {
  after_registry_write(app, conn, result.changed);
  return json_response(200, result.body.dump());
}

Response report(json body) {
  Response r = json_response(200, body.dump());
  return r;
}

}  // namespace

std::optional<Response> route_toolkit(App& app, const Request& req) {
  const auto& s = req.segments;
  if (s.size() < 3 || s[0] != "v1" || s[1] != "areas") return std::nullopt;
  const std::string& m = req.method;
  if (s.size() == 3 && s[2] == "merge") {
    if (m != "POST") throw_method_not_allowed("POST");
    auto actor = authenticate(app, req);
    auto body = json_body(req);
    auto conn = app.pool.acquire();
    return answer(app, *conn, app.toolkit.merge(*conn, actor, body, operation_options(req)));
  }
  const std::string& code = s[2];
  if (s.size() == 3) {
    // A redraw: PATCH with adjust= (neighbours | none) or dry_run=. Everything else is route_areas'.
    if (m != "PATCH" || (!req.param("adjust") && !req.param("dry_run"))) return std::nullopt;
    const std::string adjust = req.param("adjust").value_or("none");
    if (adjust != "neighbours" && adjust != "none")
      throw bad_request("invalid_parameter", "adjust must be neighbours or none");
    auto actor = authenticate(app, req);
    auto body = json_body(req);
    auto conn = app.pool.acquire();
    return answer(app, *conn, app.toolkit.redraw(*conn, actor, code, body, operation_options(req), adjust == "neighbours"));
  }
  if (s.size() != 4) return std::nullopt;
  const std::string& sub = s[3];
  if (sub == "split" || sub == "reparent") {
    if (m != "POST") throw_method_not_allowed("POST");
    auto actor = authenticate(app, req);
    auto body = json_body(req);
    auto conn = app.pool.acquire();
    auto o = operation_options(req);
    return answer(app, *conn,
                  sub == "split" ? app.toolkit.split(*conn, actor, code, body, o)
                                 : app.toolkit.reparent(*conn, actor, code, body, o));
  }
  if (sub == "children" && m == "PUT") {
    auto actor = authenticate(app, req);
    auto body = json_body(req);
    auto conn = app.pool.acquire();
    return answer(app, *conn, app.toolkit.redistrict(*conn, actor, code, body, operation_options(req)));
  }
  if (sub == "coverage" || sub == "lineage") {
    if (m != "GET") throw_method_not_allowed("GET");
    auto actor = authenticate(app, req);
    actor.require_read(code);
    auto conn = app.pool.acquire();
    if (sub == "coverage")
      return report(app.toolkit.coverage(*conn, code, geom::parse_crs(req.param("crs").value_or(""))));
    return report(app.toolkit.lineage(*conn, code));
  }
  return std::nullopt;
}

}  // namespace wangge::http
