// OGC API - Features (Parts 1, 2, 3 and 5's schema; Part 4 edits are routes_ogc_edit.cpp) under /ogc; the model is exchange/ogc.hpp,
// filters are exchange/cql2.hpp. Every resource needs the same bearer token as /v1, and rows are limited to the token's scope.
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <initializer_list>

#include "core/error.hpp"
#include "exchange/cql2_memory.hpp"
#include "exchange/ogc.hpp"
#include "exchange/ogc_memory.hpp"
#include "exchange/routes.hpp"
#include "http/params.hpp"
#include "http/router.hpp"

namespace wangge::exchange {
namespace {

using namespace http;  // Request, Response, the parameter parsers
using nlohmann::json;

Response typed(std::string body, std::string type) {
  Response r = json_response(200, std::move(body));
  r.content_type = std::move(type);
  return r;
}

// Part 1 (core) requires a 400 for a parameter the resource does not know: a filter silently
// ignored would be read as a filtered answer. `f` (json) is accepted everywhere, as clients send it.
void check_parameters(const Request& req, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : req.query) {
    if (name == "f") {
      if (value != "json" && value != "geojson" && value != "application/json" && value != "application/geo+json")
        throw bad_request("invalid_parameter", "f: only json is offered", json({{"parameter", "f"}}).dump());
      continue;
    }
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string list;
    for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    throw bad_request(
        "unknown_parameter",
        "unknown query parameter " + json(name).dump() + (list.empty() ? "; this resource takes none" : "; this resource takes " + list),
        json({{"parameter", name}}).dump());
  }
}

// If-None-Match (RFC 9110 13.1.2) names the representation the client holds: weak comparison (a W/
// prefix is ignored) and "*" matches any current one.
bool none_match(const Request& req, const std::string& etag) {
  const auto header = req.header("if-none-match");
  if (!header) return false;
  const auto tags = registry::parse_if_match(*header);
  return std::any_of(tags.begin(), tags.end(), [&](const std::string& t) { return t == "*" || t == etag; });
}

const ogc::Collection& collection_or_404(const std::string& id) {
  const auto* c = ogc::find_collection(id);
  if (!c) throw not_found("collection_not_found", "no collection " + id + "; see /ogc/collections");
  return *c;
}

Selection selection_of(const ogc::Collection& c, const registry::Actor& actor) {
  Selection s;
  s.layer = c.layer;
  s.level = c.level;
  s.scope = actor.scope;
  return s;
}

// The page from the area cache (ogc_memory.hpp) when the request is one memory answers exactly:
// an area level's current versions (no datetime), no bbox, coordinates as stored (CRS84, or
// EPSG:4326/4490 with the axes swapped), a filter and sort keys MemoryFilter evaluates. Otherwise,
// or while the cache cannot answer (see MemoryPages::select), std::nullopt: the SQL path answers.
std::optional<ogc::Page> items_from_memory(ogc::MemoryPages* memory, const ExchangeServices& app, const Request& req,
                                           const ogc::Collection& c, const Selection& s, const cql2::Node* expr, const ogc::Crs& crs,
                                           long long limit, long long offset) {
  if (!memory || c.layer != LayerKind::areas || !c.level) return std::nullopt;
  if (req.param("datetime") || req.param("bbox") || req.param("bbox-crs")) return std::nullopt;
  if (crs.srid != 4326 && crs.srid != 4490) return std::nullopt;
  ogc::MemoryQuery q;
  q.level = *c.level;
  q.scope = s.scope;
  q.limit = limit;
  q.offset = offset;
  const auto& qs = queryables(c.layer);
  for (const auto& [column, desc] : s.sort) {
    auto it = std::find_if(qs.begin(), qs.end(), [&](const cql2::Queryable& x) { return x.column == column; });
    if (it == qs.end()) return std::nullopt;
    q.sort.emplace_back(static_cast<std::size_t>(it - qs.begin()), desc);
  }
  std::optional<cql2::MemoryFilter> filter;
  if (expr) {
    filter = cql2::MemoryFilter::prepare(*expr, qs);
    if (!filter) return std::nullopt;
    q.filter = &*filter;
  }
  auto selection = memory->select(q);
  if (!selection) return std::nullopt;
  auto conn = app.registry.pool.acquire();
  return ogc::write_memory_page(*conn, *selection, crs.lat_first);
}

Response items(const ExchangeServices& app, ogc::MemoryPages* memory, const Request& req, const ogc::Collection& c,
               const registry::Actor& actor) {
  check_parameters(req, {"limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "filter", "filter-lang", "filter-crs", "sortby"});
  Selection s = selection_of(c, actor);
  cql2::Expr expr;
  if (auto text = req.param("filter")) {
    const ogc::Crs filter_crs = ogc::parse_crs(req.param("filter-crs").value_or(""));
    expr = cql2::parse(*text, req.param("filter-lang").value_or("cql2-text"));
    s.filter = std::make_shared<const cql2::Fragment>(
        cql2::compile(*expr, queryables(c.layer), {.srid = filter_crs.srid, .lat_first = filter_crs.lat_first}));
  } else {
    for (const char* p : {"filter-lang", "filter-crs"})
      if (req.param(p)) throw bad_request("invalid_parameter", std::string(p) + " needs a filter", json({{"parameter", p}}).dump());
  }
  if (auto sortby = req.param("sortby")) s.sort = cql2::parse_sortby(*sortby, queryables(c.layer));
  const long long limit = int_param(req, "limit", 100, 1, 10000);
  const long long offset = int_param(req, "offset", 0, 0, 1000000000);
  const ogc::Crs crs = ogc::parse_crs(req.param("crs").value_or(""));
  if (auto dt = req.param("datetime")) ogc::apply_datetime(s, *dt);
  auto page = items_from_memory(memory, app, req, c, s, expr.get(), crs, limit, offset);
  if (!page) {
    auto conn = app.registry.pool.acquire();
    if (auto b = req.param("bbox")) {
      const ogc::Crs bbox_crs = ogc::parse_crs(req.param("bbox-crs").value_or(""));
      s.bbox = ogc::bbox_to_storage(*conn, bbox_param(*b), bbox_crs);
    } else if (req.param("bbox-crs")) {
      throw bad_request("invalid_parameter", "bbox-crs needs a bbox", json({{"parameter", "bbox-crs"}}).dump());
    }
    page = ogc::items(*conn, s, crs, limit, offset);
  }
  json links = json::array();
  links.push_back(
      {{"rel", "self"}, {"type", "application/geo+json"}, {"href", page_link(app.registry.config.base_url(), req, offset, limit)}});
  if (offset + page->returned < page->matched)
    links.push_back({{"rel", "next"},
                     {"type", "application/geo+json"},
                     {"href", page_link(app.registry.config.base_url(), req, offset + limit, limit)}});
  if (offset > 0)
    links.push_back({{"rel", "prev"},
                     {"type", "application/geo+json"},
                     {"href", page_link(app.registry.config.base_url(), req, std::max<long long>(0, offset - limit), limit)}});
  links.push_back(
      {{"rel", "collection"}, {"type", "application/json"}, {"href", app.registry.config.base_url() + "/ogc/collections/" + c.id}});
  std::string body = "{\"type\":\"FeatureCollection\",\"timeStamp\":" + json(format_rfc3339(now_utc())).dump() +
                     ",\"numberMatched\":" + std::to_string(page->matched) + ",\"numberReturned\":" + std::to_string(page->returned) +
                     ",\"links\":" + links.dump() + ",\"features\":";
  body.reserve(body.size() + page->features.size() + 1);  // the page is copied once, not while the body grows
  body += page->features;
  body += '}';
  Response r = typed(std::move(body), "application/geo+json");
  r.headers.emplace_back("Content-Crs", "<" + crs.uri + ">");
  return r;
}

Response one_item(const ExchangeServices& app, const Request& req, const ogc::Collection& c, const registry::Actor& actor,
                  const std::string& fid_text) {
  long long fid = 0;
  auto [end, ec] = std::from_chars(fid_text.data(), fid_text.data() + fid_text.size(), fid);
  if (ec != std::errc() || end != fid_text.data() + fid_text.size() || fid < 1)
    throw not_found("feature_not_found", "no feature " + fid_text + " in collection " + c.id);
  check_parameters(req, {"crs"});
  const ogc::Crs crs = ogc::parse_crs(req.param("crs").value_or(""));
  auto feature = ogc::item(*app.registry.pool.acquire(), selection_of(c, actor), fid, crs);
  if (!feature) throw not_found("feature_not_found", "no feature " + fid_text + " in collection " + c.id);
  const std::string href = app.registry.config.base_url() + "/ogc/collections/" + c.id;
  json f = json::parse(*feature);
  std::optional<std::string> etag;
  // Areas only: a case or checkpoint item has no version to name, so no ETag and no 304.
  if (c.layer == LayerKind::areas)
    etag = ogc::item_etag(f["properties"].value("code", ""), f["properties"].value("version", 0LL), *feature);
  // What a 304 repeats of a 200 (RFC 9110 15.4.5): the validator and the caching rules. The Feature
  // depends on the caller's scope and changes with every edit, so caches keep it private and
  // revalidate each time; the ETag makes that a bodiless answer.
  auto with_headers = [&](Response r) {
    r.headers.emplace_back("Content-Crs", "<" + crs.uri + ">");
    if (etag) {
      r.headers.emplace_back("ETag", *etag);
      r.headers.emplace_back("Cache-Control", "private, no-cache");
    }
    return r;
  };
  if (etag && none_match(req, *etag)) return with_headers(empty_response(304));
  f["links"] = json::array({{{"rel", "self"}, {"type", "application/geo+json"}, {"href", href + "/items/" + fid_text}},
                            {{"rel", "collection"}, {"type", "application/json"}, {"href", href}}});
  return with_headers(typed(f.dump(), "application/geo+json"));
}

}  // namespace

void add_ogc_routes(http::RouteTable& routes, const ExchangeServices& services) {
  // The routes outlive the caller's services value: they share a copy.
  auto app = std::make_shared<const ExchangeServices>(services);
  // Items pages of the area levels from the area cache (WANGGE_OGC_FROM_MEMORY=0: always from the
  // database, e.g. to compare the two).
  const char* from_memory = std::getenv("WANGGE_OGC_FROM_MEMORY");
  std::shared_ptr<ogc::MemoryPages> memory;
  if (!from_memory || std::string_view(from_memory) != "0") memory = std::make_shared<ogc::MemoryPages>(services.registry.cache);
  auto base = [app] { return app->registry.config.base_url() + "/ogc"; };
  routes.add("GET", "/ogc", [app, base](const Request& req) {
    app->registry.authenticate(req);
    check_parameters(req, {});
    return typed(ogc::landing_json(base()), "application/json");
  });
  routes.add("GET", "/ogc/conformance", [app](const Request& req) {
    app->registry.authenticate(req);
    check_parameters(req, {});
    return typed(ogc::conformance_json(), "application/json");
  });
  routes.add("GET", "/ogc/api", [app, base](const Request& req) {
    app->registry.authenticate(req);
    check_parameters(req, {});
    return typed(ogc::openapi_json(base()), "application/vnd.oai.openapi+json;version=3.0");
  });
  routes.add("GET", "/ogc/collections", [app, base](const Request& req) {
    auto actor = app->registry.authenticate(req);
    check_parameters(req, {});
    auto conn = app->registry.pool.acquire();
    json list = json::array();
    for (const auto& c : ogc::collections()) list.push_back(ogc::collection_json(*conn, c, actor.scope, base()));
    json doc = {{"links", json::array({{{"rel", "self"}, {"type", "application/json"}, {"href", base() + "/collections"}}})},
                {"collections", list}};
    return typed(doc.dump(), "application/json");
  });
  routes.add("GET", "/ogc/collections/{collection}", [app, base](const Request& req) {
    auto actor = app->registry.authenticate(req);
    const auto& c = collection_or_404(req.path_param("collection"));
    check_parameters(req, {});
    return typed(ogc::collection_json(*app->registry.pool.acquire(), c, actor.scope, base()).dump(), "application/json");
  });
  // The JSON Schema documents of a collection. A client that accepts JSON but not JSON Schema by
  // name (GDAL 3.6 refuses other types) gets the same document as application/json.
  auto schema_route = [&routes, app, base](const char* path, std::string (*document)(const ogc::Collection&, const std::string&)) {
    routes.add("GET", path, [app, base, document](const Request& req) {
      app->registry.authenticate(req);
      const auto& c = collection_or_404(req.path_param("collection"));
      check_parameters(req, {});
      const std::string accept = req.header("accept").value_or("");
      const bool plain = accept.find("application/json") != std::string::npos && accept.find("schema+json") == std::string::npos;
      return typed(document(c, base()), plain ? "application/json" : "application/schema+json");
    });
  };
  schema_route("/ogc/collections/{collection}/queryables", ogc::queryables_json);
  schema_route("/ogc/collections/{collection}/schema", ogc::schema_json);
  routes.add("GET", "/ogc/collections/{collection}/schema.xsd", [app, base](const Request& req) {
    app->registry.authenticate(req);
    const auto& c = collection_or_404(req.path_param("collection"));
    check_parameters(req, {});
    return typed(ogc::gml_schema(c, base()), "application/xml");
  });
  routes.add("GET", "/ogc/collections/{collection}/items", [app, memory](const Request& req) {
    auto actor = app->registry.authenticate(req);
    return items(*app, memory.get(), req, collection_or_404(req.path_param("collection")), actor);
  });
  routes.add("GET", "/ogc/collections/{collection}/items/{fid}", [app](const Request& req) {
    auto actor = app->registry.authenticate(req);
    return one_item(*app, req, collection_or_404(req.path_param("collection")), actor, req.path_param("fid"));
  });
}

}  // namespace wangge::exchange
