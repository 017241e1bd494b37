// The registry's routes: /v1/areas and its sub-resources, /v1/workers. The toolkit adds the
// topology-keeping operations on the same resources (routes_toolkit.cpp).
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/log.hpp"
#include "geom/crs.hpp"
#include "http/params.hpp"
#include "http/router.hpp"
#include "registry/registry.hpp"

namespace wangge::registry {
namespace {

using http::Request;
using http::Response;
using nlohmann::json;

Response feature_response(int status, const AreaDocument& doc, const json& report = json::object()) {
  Response r = http::json_response(status, doc.feature);
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

WriteOptions write_options(const Request& req) {
  WriteOptions o;
  o.srid = geom::parse_crs(http::crs_text(req));
  o.repair = http::bool_param(req, "repair", false);
  if (auto h = req.header("if-match")) o.if_match = parse_if_match(*h);
  return o;
}

// GET /v1/areas, and GET /v1/areas/{code}/children as the same listing with the parent fixed.
Response list_areas(Registry& reg, const Request& req, const Actor& actor, const std::optional<std::string>& children_of = std::nullopt) {
  AreaQuery q;
  q.level = req.param("level");
  if (q.level && !parse_level(*q.level))
    throw bad_request("invalid_parameter", "level must be one of province, city, county, township, village, grid, microgrid");
  q.parent = children_of ? children_of : req.param("parent");
  if (auto b = req.param("bbox")) q.bbox = http::bbox_param(*b);
  if (auto text = req.param("q")) {
    // A person's search box: a few words at most; an empty search would list everything.
    if (text->empty() || text->size() > 100) throw bad_request("invalid_parameter", "q is 1 to 100 bytes of a name or the start of a code");
    q.text = *text;
  }
  q.at = http::time_param(req, "at");
  q.limit = static_cast<int>(http::int_param(req, "limit", 100, 1, 10000));
  q.offset = http::int_param(req, "offset", 0, 0, 1000000000);
  q.srid = geom::parse_crs(http::crs_text(req));
  q.scope = actor.scope;
  auto conn = reg.pool.acquire();
  if (children_of) {
    actor.require_read(*children_of);
    reg.areas.get(*conn, *children_of, q.at, geom::kStorageSrid);  // 404/410 for an unknown or retired parent
  }
  auto page = reg.areas.list(*conn, q);
  json links = json::array();
  links.push_back(
      {{"rel", "self"}, {"type", "application/geo+json"}, {"href", http::page_link(reg.config.base_url(), req, q.offset, q.limit)}});
  if (q.offset + page.returned < page.matched)
    links.push_back({{"rel", "next"},
                     {"type", "application/geo+json"},
                     {"href", http::page_link(reg.config.base_url(), req, q.offset + q.limit, q.limit)}});
  if (q.offset > 0)
    links.push_back({{"rel", "prev"},
                     {"type", "application/geo+json"},
                     {"href", http::page_link(reg.config.base_url(), req, std::max<long long>(0, q.offset - q.limit), q.limit)}});
  std::string body = "{\"type\":\"FeatureCollection\",\"numberMatched\":" + std::to_string(page.matched) +
                     ",\"numberReturned\":" + std::to_string(page.returned) + ",\"links\":" + links.dump() +
                     ",\"features\":" + page.features + "}";
  Response r = http::json_response(200, std::move(body));
  r.content_type = "application/geo+json";
  return r;
}

long long worker_id(const Request& req) {
  long long id = 0;
  const std::string& text = req.path_param("id");
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0)
    throw bad_request("invalid_parameter", "a worker id is a positive integer");
  return id;
}

}  // namespace

void add_routes(http::RouteTable& routes, Registry& reg) {
  Registry* r = &reg;
  routes.add("GET", "/v1/areas", [r](const Request& req) { return list_areas(*r, req, r->authenticate(req)); });
  routes.add("POST", "/v1/areas", [r](const Request& req) {
    auto actor = r->authenticate(req);
    auto body = http::json_body(req);
    auto conn = r->pool.acquire();
    auto result = r->areas.create(*conn, actor, body, write_options(req));
    r->after_write(*conn, {result.area.code});
    Response res = feature_response(201, result.area, result.report);
    res.headers.emplace_back("Location", r->config.base_url() + "/v1/areas/" + result.area.code);
    return res;
  });
  routes.add("GET", "/v1/areas/{code}", [r](const Request& req) {
    auto actor = r->authenticate(req);
    const std::string& code = req.path_param("code");
    actor.require_read(code);
    const auto at = http::time_param(req, "at");
    const int srid = geom::parse_crs(http::crs_text(req));
    // The hot path: the current version in storage CRS comes from memory. Anything else, and
    // codes the cache does not hold (unknown, retired), go to the database.
    if (!at && srid == geom::kStorageSrid) {
      if (auto hit = r->cache.find(code)) return feature_response(200, {hit->feature, hit->etag, hit->code});
    }
    return feature_response(200, r->areas.get(*r->pool.acquire(), code, at, srid));
  });
  for (const char* method : {"PATCH", "PUT"}) {
    const bool replace = std::string(method) == "PUT";
    routes.add(method, "/v1/areas/{code}", [r, replace](const Request& req) {
      auto actor = r->authenticate(req);
      const std::string& code = req.path_param("code");
      auto body = http::json_body(req);
      auto conn = r->pool.acquire();
      auto result = r->areas.update(*conn, actor, code, body, write_options(req), replace);
      r->after_write(*conn, {code});
      return feature_response(200, result.area, result.report);
    });
  }
  routes.add("DELETE", "/v1/areas/{code}", [r](const Request& req) {
    auto actor = r->authenticate(req);
    const std::string& code = req.path_param("code");
    auto conn = r->pool.acquire();
    // dry_run=true: the console's preview of a retirement (what it unassigns and leaves behind).
    if (http::bool_param(req, "dry_run", false))
      return http::json_response(200, r->areas.retire(*conn, actor, code, write_options(req), true).dump());
    r->areas.retire(*conn, actor, code, write_options(req));
    r->after_write(*conn, {code});
    return http::empty_response(204);
  });
  routes.add("GET", "/v1/areas/{code}/children", [r](const Request& req) {
    auto actor = r->authenticate(req);
    return list_areas(*r, req, actor, req.path_param("code"));
  });
  routes.add("GET", "/v1/areas/{code}/history", [r](const Request& req) {
    auto actor = r->authenticate(req);
    const std::string& code = req.path_param("code");
    actor.require_read(code);
    // Every version of an area with its geometry: a long-lived, often redrawn area answers megabytes.
    auto pass = r->expensive.enter("the history");
    return http::json_response(200, r->areas.history(*r->pool.acquire(), code, geom::parse_crs(http::crs_text(req))));
  });
  routes.add("GET", "/v1/areas/{code}/workers", [r](const Request& req) {
    auto actor = r->authenticate(req);
    return http::json_response(200, r->workers.of_grid(*r->pool.acquire(), actor, req.path_param("code")).dump());
  });
  routes.add("PUT", "/v1/areas/{code}/workers", [r](const Request& req) {
    auto actor = r->authenticate(req);
    const bool dry_run = http::bool_param(req, "dry_run", false);
    auto answer = r->workers.assign(*r->pool.acquire(), actor, req.path_param("code"), http::json_body(req), dry_run);
    // An unchanged set writes no assignment, so no notification comes to wait for (the wait would
    // run to its limit and hold the person's request that long).
    const bool changed = !answer["added"].empty() || !answer["removed"].empty();
    if (!dry_run && changed && r->after_worker_write) r->after_worker_write();
    return http::json_response(200, answer.dump());
  });
  routes.add("GET", "/v1/workers", [r](const Request& req) {
    auto actor = r->authenticate(req);
    auto area = req.param("area");
    if (!area || area->empty() || area->size() > 40)
      throw bad_request("invalid_parameter", "area=CODE is required: the area whose workers are listed");
    return http::json_response(200, r->workers.list(*r->pool.acquire(), actor, *area).dump());
  });
  routes.add("POST", "/v1/workers", [r](const Request& req) {
    auto actor = r->authenticate(req);
    auto worker = r->workers.create(*r->pool.acquire(), actor, http::json_body(req));
    if (r->after_worker_write) r->after_worker_write();
    Response res = http::json_response(201, worker.dump());
    res.headers.emplace_back("Location", r->config.base_url() + "/v1/workers/" + std::to_string(worker["id"].get<long long>()));
    return res;
  });
  routes.add("GET", "/v1/workers/{id}", [r](const Request& req) {
    auto actor = r->authenticate(req);
    return http::json_response(200, r->workers.get(*r->pool.acquire(), actor, worker_id(req)).dump());
  });
}

}  // namespace wangge::registry
