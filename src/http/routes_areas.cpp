// /v1/areas and its sub-resources.
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/log.hpp"
#include "geom/crs.hpp"
#include "http/context.hpp"
#include "http/params.hpp"

namespace wangge::http {
namespace {

using nlohmann::json;

Response feature_response(int status, const registry::AreaDocument& doc, const json& report = json::object()) {
  Response r = json_response(status, doc.feature);
  r.content_type = "application/geo+json";
  if (!report.empty()) {
    // Reports (e.g. what a repair changed) travel beside the Feature as a foreign member.
    json f = json::parse(doc.feature);
    f["report"] = report;
    r.body = f.dump();
  }
  r.headers.emplace_back("ETag", doc.etag);
  return r;
}

registry::WriteOptions write_options(const Request& req) {
  registry::WriteOptions o;
  o.srid = geom::parse_crs(req.param("crs").value_or(""));
  o.repair = bool_param(req, "repair", false);
  if (auto h = req.header("if-match")) o.if_match = registry::parse_if_match(*h);
  return o;
}

// GET /v1/areas, and GET /v1/areas/{code}/children as the same listing with the parent fixed.
Response list_areas(App& app, const Request& req, const registry::Actor& actor,
                    const std::optional<std::string>& children_of = std::nullopt) {
  registry::AreaQuery q;
  q.level = req.param("level");
  if (q.level && !registry::parse_level(*q.level))
    throw bad_request("invalid_parameter", "level must be one of province, city, county, township, village, grid, microgrid");
  q.parent = children_of ? children_of : req.param("parent");
  if (auto b = req.param("bbox")) q.bbox = bbox_param(*b);
  q.at = time_param(req, "at");
  q.limit = static_cast<int>(int_param(req, "limit", 100, 1, 10000));
  q.offset = int_param(req, "offset", 0, 0, 1000000000);
  q.srid = geom::parse_crs(req.param("crs").value_or(""));
  q.scope = actor.scope;
  auto conn = app.pool.acquire();
  if (children_of) {
    actor.require_read(*children_of);
    app.areas.get(*conn, *children_of, q.at, geom::kStorageSrid);  // 404/410 for an unknown or retired parent
  }
  auto page = app.areas.list(*conn, q);
  json links = json::array();
  links.push_back({{"rel", "self"}, {"type", "application/geo+json"}, {"href", page_link(app, req, q.offset, q.limit)}});
  if (q.offset + page.returned < page.matched)
    links.push_back({{"rel", "next"}, {"type", "application/geo+json"}, {"href", page_link(app, req, q.offset + q.limit, q.limit)}});
  if (q.offset > 0)
    links.push_back({{"rel", "prev"}, {"type", "application/geo+json"},
                     {"href", page_link(app, req, std::max<long long>(0, q.offset - q.limit), q.limit)}});
  std::string body = "{\"type\":\"FeatureCollection\",\"numberMatched\":" + std::to_string(page.matched) +
                     ",\"numberReturned\":" + std::to_string(page.returned) + ",\"links\":" + links.dump() +
                     ",\"features\":" + page.features + "}";
  Response r = json_response(200, std::move(body));
  r.content_type = "application/geo+json";
  return r;
}

}  // namespace

void after_registry_write(App& app, pg::Connection& conn, const std::vector<std::string>& codes) {
  if (codes.empty()) return;
  try {
    app.cache.refresh(conn, codes, false);
  } catch (const std::exception& e) {
    log::warn(std::string("area cache refresh after a write failed: ") + e.what());
    return;
  }
  // Small registries rebuild in milliseconds and the writer then sees its change everywhere
  // (locate, tiles) in its next request; big ones keep rebuilding after the answer has gone.
  app.cache.wait_for_subscribers(codes, std::chrono::milliseconds(2000));
}

std::optional<Response> route_areas(App& app, const Request& req) {
  const auto& s = req.segments;
  if (s.size() < 2 || s[0] != "v1" || s[1] != "areas") return std::nullopt;
  const std::string& m = req.method;
  if (s.size() == 2) {
    if (m == "GET") return list_areas(app, req, authenticate(app, req));
    if (m == "POST") {
      auto actor = authenticate(app, req);
      auto body = json_body(req);
      auto conn = app.pool.acquire();
      auto result = app.areas.create(*conn, actor, body, write_options(req));
      after_registry_write(app, *conn, {result.area.code});
      Response r = feature_response(201, result.area, result.report);
      r.headers.emplace_back("Location", app.config.base_url() + "/v1/areas/" + result.area.code);
      return r;
    }
    throw_method_not_allowed("GET, POST");
  }
  const std::string& code = s[2];
  if (s.size() == 3) {
    auto actor = authenticate(app, req);
    if (m == "GET") {
      actor.require_read(code);
      const auto at = time_param(req, "at");
      const int srid = geom::parse_crs(req.param("crs").value_or(""));
      // The hot path: the current version in storage CRS comes from memory. Anything else, and
      // codes the cache does not hold (unknown, retired), go to the database.
      if (!at && srid == geom::kStorageSrid) {
        if (auto hit = app.cache.find(code)) return feature_response(200, {hit->feature, hit->etag, hit->code});
      }
      return feature_response(200, app.areas.get(*app.pool.acquire(), code, at, srid));
    }
    if (m == "PATCH" || m == "PUT") {
      auto body = json_body(req);
      auto conn = app.pool.acquire();
      auto result = app.areas.update(*conn, actor, code, body, write_options(req), m == "PUT");
      after_registry_write(app, *conn, {code});
      return feature_response(200, result.area, result.report);
    }
    if (m == "DELETE") {
      auto conn = app.pool.acquire();
      app.areas.retire(*conn, actor, code, write_options(req));
      after_registry_write(app, *conn, {code});
      Response r;
      r.status = 204;
      r.content_type.clear();
      return r;
    }
    throw_method_not_allowed("GET, PUT, PATCH, DELETE");
  }
  if (s.size() == 4) {
    auto actor = authenticate(app, req);
    const std::string& sub = s[3];
    if (sub == "children") {
      if (m != "GET") throw_method_not_allowed("GET");
      return list_areas(app, req, actor, code);
    }
    if (sub == "history") {
      if (m != "GET") throw_method_not_allowed("GET");
      actor.require_read(code);
      return json_response(200, app.areas.history(*app.pool.acquire(), code, geom::parse_crs(req.param("crs").value_or(""))));
    }
    if (sub == "workers") {
      if (m == "GET") return json_response(200, app.workers.of_grid(*app.pool.acquire(), actor, code).dump());
      if (m == "PUT") return json_response(200, app.workers.assign(*app.pool.acquire(), actor, code, json_body(req)).dump());
      throw_method_not_allowed("GET, PUT");
    }
  }
  return std::nullopt;
}

}  // namespace wangge::http
