// /v1/checkpoints (CRUD per grid, visits) and /v1/patrol/due (which checkpoints are due on a day).
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/time.hpp"
#include "http/params.hpp"
#include "http/router.hpp"
#include "patrol/checkpoints.hpp"
#include "patrol/routes.hpp"

namespace wangge::patrol {

using namespace http;  // Request, Response, json_body, the parameter parsers

namespace {

using nlohmann::json;

long long checkpoint_id(const std::string& text) {
  long long id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0)
    throw bad_request("invalid_parameter", "a checkpoint id is a positive integer");
  return id;
}

Response with_etag(int status, const json& checkpoint) {
  Response r = json_response(status, checkpoint.dump());
  r.headers.emplace_back("ETag", checkpoint["etag"].get<std::string>());
  return r;
}

std::vector<std::string> if_match_of(const Request& req) {
  if (auto h = req.header("if-match")) return registry::parse_if_match(*h);
  return {};
}

std::string required(const Request& req, const char* name) {
  auto v = req.param(name);
  if (!v || v->empty()) throw bad_request("invalid_parameter", std::string(name) + " is required");
  return *v;
}

// Whatever follows checkpoints in this process (the tile layer) hears of each committed change.
void refresh_tiles(const PatrolServices& app, pg::Connection& conn, const CheckpointChange& change) {
  if (app.checkpoints_changed) app.checkpoints_changed(conn, change);
}

// Today's date in Asia/Shanghai (UTC+8 all year).
std::string today_shanghai() { return format_rfc3339(now_utc() + 8LL * 3600 * 1'000'000).substr(0, 10); }

}  // namespace

void add_checkpoint_routes(http::RouteTable& routes, const PatrolServices& services) {
  // The routes outlive the caller's services value: they share a copy.
  auto app = std::make_shared<const PatrolServices>(services);
  routes.add("GET", "/v1/patrol/due", [app](const Request& req) {
    auto actor = app->registry.authenticate(req);
    const CheckpointStore store;
    return json_response(
        200, store.due(*app->registry.pool.acquire(), actor, required(req, "grid"), req.param("date").value_or(today_shanghai())).dump());
  });
  routes.add("GET", "/v1/checkpoints", [app](const Request& req) {
    auto actor = app->registry.authenticate(req);
    const CheckpointStore store;
    return json_response(200, store.list(*app->registry.pool.acquire(), actor, required(req, "grid")).dump());
  });
  routes.add("POST", "/v1/checkpoints", [app](const Request& req) {
    auto actor = app->registry.authenticate(req);
    const CheckpointStore store;
    auto body = json_body(req);
    auto conn = app->registry.pool.acquire();
    CheckpointChange change;
    auto cp = store.create(*conn, actor, body, crs_text(req), change);
    refresh_tiles(*app, *conn, change);
    Response r = with_etag(201, cp);
    r.headers.emplace_back("Location", app->registry.config.base_url() + "/v1/checkpoints/" + std::to_string(cp["id"].get<long long>()));
    return r;
  });
  routes.add("GET", "/v1/checkpoints/{id}", [app](const Request& req) {
    auto actor = app->registry.authenticate(req);
    const CheckpointStore store;
    return with_etag(200, store.get(*app->registry.pool.acquire(), actor, checkpoint_id(req.path_param("id"))));
  });
  routes.add("PATCH", "/v1/checkpoints/{id}", [app](const Request& req) {
    auto actor = app->registry.authenticate(req);
    const long long id = checkpoint_id(req.path_param("id"));
    const CheckpointStore store;
    auto body = json_body(req);
    auto conn = app->registry.pool.acquire();
    CheckpointChange change;
    auto cp = store.update(*conn, actor, id, body, if_match_of(req), crs_text(req), change);
    refresh_tiles(*app, *conn, change);
    return with_etag(200, cp);
  });
  routes.add("DELETE", "/v1/checkpoints/{id}", [app](const Request& req) {
    auto actor = app->registry.authenticate(req);
    const long long id = checkpoint_id(req.path_param("id"));
    const CheckpointStore store;
    auto conn = app->registry.pool.acquire();
    CheckpointChange change;
    store.remove(*conn, actor, id, if_match_of(req), change);
    refresh_tiles(*app, *conn, change);
    return empty_response(204);
  });
  routes.add("GET", "/v1/checkpoints/{id}/visits", [app](const Request& req) {
    auto actor = app->registry.authenticate(req);
    const CheckpointStore store;
    return json_response(200, store.visits(*app->registry.pool.acquire(), actor, checkpoint_id(req.path_param("id"))).dump());
  });
  routes.add("POST", "/v1/checkpoints/{id}/visits", [app](const Request& req) {
    auto actor = app->registry.authenticate(req);
    const long long id = checkpoint_id(req.path_param("id"));
    const CheckpointStore store;
    return json_response(201, store.add_visit(*app->registry.pool.acquire(), actor, id, json_body(req)).dump());
  });
}

void add_routes(http::RouteTable& routes, const PatrolServices& services) {
  add_checkpoint_routes(routes, services);
  add_dispatch_routes(routes, services);
  add_tour_routes(routes, services);
  add_coverage_routes(routes, services);
}

}  // namespace wangge::patrol
