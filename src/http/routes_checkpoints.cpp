// /v1/checkpoints (CRUD per grid, visits) and /v1/patrol/due (which checkpoints are due on a day).
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/time.hpp"
#include "http/context.hpp"
#include "http/params.hpp"
#include "patrol/checkpoints.hpp"
#include "registry/areas.hpp"

namespace wangge::http {
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

// The checkpoints tile layer follows each committed change (this process only).
void refresh_tiles(App& app, pg::Connection& conn, const patrol::CheckpointChange& change) {
  if (app.tiles && app.tiles->ready()) app.tiles->refresh_checkpoints(conn, change.locations);
}

// Today's date in Asia/Shanghai (UTC+8 all year).
std::string today_shanghai() { return format_rfc3339(now_utc() + 8LL * 3600 * 1'000'000).substr(0, 10); }

}  // namespace

std::optional<Response> route_checkpoints(App& app, const Request& req) {
  const auto& s = req.segments;
  if (s.size() == 3 && s[0] == "v1" && s[1] == "patrol" && s[2] == "due") {
    if (req.method != "GET") throw_method_not_allowed("GET");
    auto actor = authenticate(app, req);
    const patrol::CheckpointStore store;
    return json_response(200, store.due(*app.pool.acquire(), actor, required(req, "grid"), req.param("date").value_or(today_shanghai())).dump());
  }
  if (s.size() < 2 || s[0] != "v1" || s[1] != "checkpoints" || s.size() > 4) return std::nullopt;
  auto actor = authenticate(app, req);
  const patrol::CheckpointStore store;
  if (s.size() == 2) {
    if (req.method == "GET") return json_response(200, store.list(*app.pool.acquire(), actor, required(req, "grid")).dump());
    if (req.method != "POST") throw_method_not_allowed("GET, POST");
    auto conn = app.pool.acquire();
    patrol::CheckpointChange change;
    auto cp = store.create(*conn, actor, json_body(req), req.param("crs").value_or(""), change);
    refresh_tiles(app, *conn, change);
    Response r = with_etag(201, cp);
    r.headers.emplace_back("Location", app.config.base_url() + "/v1/checkpoints/" + std::to_string(cp["id"].get<long long>()));
    return r;
  }
  const long long id = checkpoint_id(s[2]);
  if (s.size() == 4) {
    if (s[3] != "visits") return std::nullopt;
    if (req.method == "GET") return json_response(200, store.visits(*app.pool.acquire(), actor, id).dump());
    if (req.method != "POST") throw_method_not_allowed("GET, POST");
    return json_response(201, store.add_visit(*app.pool.acquire(), actor, id, json_body(req)).dump());
  }
  if (req.method == "GET") return with_etag(200, store.get(*app.pool.acquire(), actor, id));
  auto conn = app.pool.acquire();
  patrol::CheckpointChange change;
  if (req.method == "PATCH") {
    auto cp = store.update(*conn, actor, id, json_body(req), if_match_of(req), req.param("crs").value_or(""), change);
    refresh_tiles(app, *conn, change);
    return with_etag(200, cp);
  }
  if (req.method == "DELETE") {
    store.remove(*conn, actor, id, if_match_of(req), change);
    refresh_tiles(app, *conn, change);
    Response r;
    r.status = 204;
    r.content_type.clear();
    return r;
  }
  throw_method_not_allowed("GET, PATCH, DELETE");
}

}  // namespace wangge::http
