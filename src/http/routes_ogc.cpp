// OGC API - Features (Parts 1 and 2) under /ogc; the model is exchange/ogc.hpp. Every resource
// needs the same bearer token as /v1, and rows are limited to the token's scope.
#include <charconv>

#include "core/error.hpp"
#include "exchange/ogc.hpp"
#include "http/context.hpp"
#include "http/params.hpp"

namespace wangge::http {
namespace {

namespace ogc = exchange::ogc;
using nlohmann::json;

Response typed(std::string body, std::string type) {
  Response r = json_response(200, std::move(body));
  r.content_type = std::move(type);
  return r;
}

const ogc::Collection& collection_or_404(const std::string& id) {
  const auto* c = ogc::find_collection(id);
  if (!c) throw not_found("collection_not_found", "no collection " + id + "; see /ogc/collections");
  return *c;
}

exchange::Selection selection_of(const ogc::Collection& c, const registry::Actor& actor) {
  exchange::Selection s;
  s.layer = c.layer;
  s.level = c.level;
  s.scope = actor.scope;
  return s;
}

Response items(App& app, const Request& req, const ogc::Collection& c, const registry::Actor& actor) {
  exchange::Selection s = selection_of(c, actor);
  const long long limit = int_param(req, "limit", 100, 1, 10000);
  const long long offset = int_param(req, "offset", 0, 0, 1000000000);
  const ogc::Crs crs = ogc::parse_crs(req.param("crs").value_or(""));
  if (auto dt = req.param("datetime")) ogc::apply_datetime(s, *dt);
  auto conn = app.pool.acquire();
  if (auto b = req.param("bbox")) {
    const ogc::Crs bbox_crs = ogc::parse_crs(req.param("bbox-crs").value_or(""));
    s.bbox = ogc::bbox_to_storage(*conn, bbox_param(*b), bbox_crs);
  } else if (req.param("bbox-crs")) {
    throw bad_request("invalid_parameter", "bbox-crs needs a bbox");
  }
  auto page = ogc::items(*conn, s, crs, limit, offset);
  json links = json::array();
  links.push_back({{"rel", "self"}, {"type", "application/geo+json"}, {"href", page_link(app, req, offset, limit)}});
  if (offset + page.returned < page.matched)
    links.push_back({{"rel", "next"}, {"type", "application/geo+json"}, {"href", page_link(app, req, offset + limit, limit)}});
  if (offset > 0)
    links.push_back({{"rel", "prev"}, {"type", "application/geo+json"},
                     {"href", page_link(app, req, std::max<long long>(0, offset - limit), limit)}});
  links.push_back({{"rel", "collection"}, {"type", "application/json"},
                   {"href", app.config.base_url() + "/ogc/collections/" + c.id}});
  std::string body = "{\"type\":\"FeatureCollection\",\"timeStamp\":" + json(format_rfc3339(now_utc())).dump() +
                     ",\"numberMatched\":" + std::to_string(page.matched) +
                     ",\"numberReturned\":" + std::to_string(page.returned) + ",\"links\":" + links.dump() +
                     ",\"features\":" + page.features + "}";
  Response r = typed(std::move(body), "application/geo+json");
  r.headers.emplace_back("Content-Crs", "<" + crs.uri + ">");
  return r;
}

Response one_item(App& app, const Request& req, const ogc::Collection& c, const registry::Actor& actor, const std::string& fid_text) {
  long long fid = 0;
  auto [end, ec] = std::from_chars(fid_text.data(), fid_text.data() + fid_text.size(), fid);
  if (ec != std::errc() || end != fid_text.data() + fid_text.size() || fid < 1)
    throw not_found("feature_not_found", "no feature " + fid_text + " in collection " + c.id);
  const ogc::Crs crs = ogc::parse_crs(req.param("crs").value_or(""));
  auto feature = ogc::item(*app.pool.acquire(), selection_of(c, actor), fid, crs);
  if (!feature) throw not_found("feature_not_found", "no feature " + fid_text + " in collection " + c.id);
  const std::string href = app.config.base_url() + "/ogc/collections/" + c.id;
  json f = json::parse(*feature);
  f["links"] = json::array({{{"rel", "self"}, {"type", "application/geo+json"}, {"href", href + "/items/" + fid_text}},
                            {{"rel", "collection"}, {"type", "application/json"}, {"href", href}}});
  Response r = typed(f.dump(), "application/geo+json");
  r.headers.emplace_back("Content-Crs", "<" + crs.uri + ">");
  return r;
}

}  // namespace

std::optional<Response> route_ogc(App& app, const Request& req) {
  const auto& s = req.segments;
  if (s.empty() || s[0] != "ogc") return std::nullopt;
  if (req.method != "GET") throw_method_not_allowed("GET");
  auto actor = authenticate(app, req);
  const std::string base = app.config.base_url() + "/ogc";
  if (s.size() == 1) return typed(ogc::landing_json(base), "application/json");
  if (s.size() == 2 && s[1] == "conformance") return typed(ogc::conformance_json(), "application/json");
  if (s.size() == 2 && s[1] == "api") return typed(ogc::openapi_json(base), "application/vnd.oai.openapi+json;version=3.0");
  if (s[1] != "collections") return std::nullopt;
  if (s.size() == 2) {
    auto conn = app.pool.acquire();
    json list = json::array();
    for (const auto& c : ogc::collections()) list.push_back(ogc::collection_json(*conn, c, actor.scope, base));
    json doc = {{"links", json::array({{{"rel", "self"}, {"type", "application/json"}, {"href", base + "/collections"}}})},
                {"collections", list}};
    return typed(doc.dump(), "application/json");
  }
  const auto& c = collection_or_404(s[2]);
  if (s.size() == 3) return typed(ogc::collection_json(*app.pool.acquire(), c, actor.scope, base).dump(), "application/json");
  if (s[3] != "items" || s.size() > 5) return std::nullopt;
  if (s.size() == 4) return items(app, req, c, actor);
  return one_item(app, req, c, actor, s[4]);
}

}  // namespace wangge::http
