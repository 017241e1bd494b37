// OGC API - Features Part 4 under /ogc: POST items, PUT/PATCH/DELETE an item of an area
// collection. Each edit is the registry's own (AreaStore::create/update/retire, or the toolkit's
// redraw with adjust=neighbours), under the same roles, scopes, topology rules and audit as
// /v1/areas; this file only translates between the two (exchange/ogc_edit.hpp).
#include <algorithm>
#include <charconv>
#include <functional>

#include "core/error.hpp"
#include "core/log.hpp"
#include "exchange/ogc_edit.hpp"
#include "exchange/routes.hpp"
#include "geom/crs.hpp"
#include "http/params.hpp"
#include "http/router.hpp"
#include "registry/queries.hpp"

namespace wangge::exchange {
namespace {

using http::Request;
using http::Response;
using nlohmann::json;

// What GIS clients send is not always what the specification's examples show (QGIS, GDAL and
// OWSLib differ in methods, media types and preconditions): one line per edit says what came.
void log_edit(const Request& req) {
  log::info("ogc edit: " + req.method + " " + req.path + (req.query.count("adjust") ? "?adjust=" + req.query.at("adjust") : "") +
            " content-type=" + req.header("content-type").value_or("-") + " content-crs=" + req.header("content-crs").value_or("-") +
            " if-match=" + req.header("if-match").value_or("-") + " body=" + std::to_string(req.body.size()) + "B");
}

void only_parameters(const Request& req, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : req.query) {
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    throw bad_request("unknown_parameter", "unknown query parameter " + json(name).dump() + " for this edit",
                      json({{"parameter", name}}).dump());
  }
}

// Only the area collections are edited here: cases and checkpoints have lifecycles of their own
// (/v1/incidents, /v1/checkpoints).
const ogc::Collection& editable_collection(const Request& req) {
  const auto* c = ogc::find_collection(req.path_param("collection"));
  if (!c) throw not_found("collection_not_found", "no collection " + req.path_param("collection") + "; see /ogc/collections");
  if (c->layer != LayerKind::areas)
    throw Error(405, "method_not_allowed", "collection " + c->id + " is read-only through /ogc; its own /v1 resource changes it");
  return *c;
}

// The version a feature id names, in this collection. A superseded version refuses the edit: the
// client edited a copy that is no longer current.
registry::AreaVersionRef edited_version(pg::Connection& conn, const ogc::Collection& c, const std::string& fid_text) {
  long long fid = 0;
  auto [end, ec] = std::from_chars(fid_text.data(), fid_text.data() + fid_text.size(), fid);
  const auto ref =
      ec == std::errc() && end == fid_text.data() + fid_text.size() && fid > 0 ? registry::area_version_by_id(conn, fid) : std::nullopt;
  if (!ref || !c.level || ref->level != *c.level) throw not_found("feature_not_found", "no feature " + fid_text + " in collection " + c.id);
  if (!ref->current_id) registry::require_current(conn, ref->code);  // retired: 410 area_retired
  if (*ref->current_id != fid) {
    const std::string current_etag = registry::area_etag(ref->code, ref->current_version);
    throw conflict("feature_superseded",
                   "feature " + fid_text + " is version " + std::to_string(ref->version) + " of area " + ref->code + "; version " +
                       std::to_string(ref->current_version) + " is current as feature " + std::to_string(*ref->current_id) +
                       ": reload and edit that one",
                   json({{"current_feature_id", *ref->current_id}, {"current_etag", current_etag}}).dump());
  }
  return *ref;
}

// If-Match names the edited feature only (HTTP: the target resource). Without it the version in
// the URL is the precondition, so a client that sends none (QGIS) still never overwrites a change
// it has not seen. An item's ETag (ogc::item_etag) counts as its version's tag: what an edit
// conditions on is the area's version, not the count of workers the Feature also showed.
std::vector<std::string> preconditions(const Request& req, const registry::AreaVersionRef& ref) {
  if (auto h = req.header("if-match")) {
    auto tags = registry::parse_if_match(*h);
    for (auto& t : tags) t = ogc::version_tag(t);
    return tags;
  }
  return {registry::area_etag(ref.code, ref.version)};
}

// The edited or created area as the OGC GET answers it, in the request's CRS.
Response feature_answer(registry::Registry& reg, pg::Connection& conn, const ogc::Collection& c, const registry::Actor& actor,
                        const std::string& code, const ogc::Crs& crs, int status) {
  const auto fid = registry::current_version_id(conn, code);
  if (!fid) throw not_found("feature_not_found", "area " + code + " is not current");
  Selection s;
  s.layer = c.layer;
  s.level = c.level;
  s.scope = actor.scope;
  auto text = ogc::item(conn, s, *fid, crs);
  if (!text) throw not_found("feature_not_found", "area " + code + " is outside this token's scope");
  json f = json::parse(*text);
  const std::string href = reg.config.base_url() + "/ogc/collections/" + c.id + "/items/" + std::to_string(*fid);
  f["links"] = json::array({{{"rel", "self"}, {"type", "application/geo+json"}, {"href", href}}});
  Response r = http::json_response(status, f.dump());
  r.content_type = "application/geo+json";
  r.headers.emplace_back("ETag", ogc::item_etag(code, f["properties"].value("version", 0LL), *text));
  r.headers.emplace_back("Location", href);
  r.headers.emplace_back("Content-Crs", "<" + crs.uri + ">");
  return r;
}

// The body's geometry in the registry's axis order, and the CRS the registry transforms it from.
registry::WriteOptions write_options(const ogc::Crs& crs, std::vector<std::string> if_match) {
  registry::WriteOptions o;
  o.srid = crs.srid;
  o.if_match = std::move(if_match);
  return o;
}

json feature_body(const Request& req, const ogc::Crs& crs) {
  json body = http::json_body(req);
  if (!body.is_object()) throw bad_request("invalid_feature", "the body must be a GeoJSON Feature (or, for PATCH, part of one)");
  if (crs.lat_first)
    if (auto it = body.find("geometry"); it != body.end()) ogc_edit::swap_axes(*it);
  return body;
}

Response create(registry::Registry& reg, const Request& req) {
  auto actor = reg.authenticate(req);
  const auto& c = editable_collection(req);
  only_parameters(req, {});
  actor.require_edit_role();
  const ogc::Crs crs = ogc_edit::content_crs(req.header("content-crs"));
  json body = feature_body(req, crs);
  if (body.value("type", "") != "Feature" || !body.contains("properties") || !body.contains("geometry"))
    throw bad_request("invalid_feature", "POST takes a GeoJSON Feature with properties and geometry");
  json feature = {
      {"type", "Feature"}, {"geometry", body["geometry"]}, {"properties", ogc_edit::registry_properties(body["properties"], c, true)}};
  auto conn = reg.pool.acquire();
  auto result = reg.areas.create(*conn, actor, feature, write_options(crs, {}));
  reg.after_write(*conn, {result.area.code});
  return feature_answer(reg, *conn, c, actor, result.area.code, crs, 201);
}

// PUT (replace) and PATCH (update) of an item. A new geometry with adjust=neighbours is the
// toolkit's redraw: the neighbours give up what it takes and receive what it releases, and the
// changed properties go into the redrawn version (one version per area, one transaction).
Response change(registry::Registry& reg, const toolkit::Toolkit& toolkit, const Request& req, bool replace) {
  auto actor = reg.authenticate(req);
  const auto& c = editable_collection(req);
  only_parameters(req, {"adjust"});
  const std::string adjust = req.param("adjust").value_or("none");
  if (adjust != "neighbours" && adjust != "none") throw bad_request("invalid_parameter", "adjust must be neighbours or none");
  actor.require_edit_role();
  const ogc::Crs crs = ogc_edit::content_crs(req.header("content-crs"));
  json body = feature_body(req, crs);
  if (replace && (!body.contains("properties") || !body.contains("geometry")))
    throw bad_request("invalid_feature", "PUT takes the whole Feature: properties and geometry");
  json changes = json::object();
  if (body.contains("properties")) changes["properties"] = ogc_edit::registry_properties(body["properties"], c, false);
  if (body.contains("geometry")) changes["geometry"] = body["geometry"];
  if (changes.empty()) throw bad_request("invalid_feature", "PATCH takes {\"properties\": {...}} and/or {\"geometry\": ...}");

  auto conn = reg.pool.acquire();
  const auto ref = edited_version(*conn, c, req.path_param("fid"));
  const auto if_match = preconditions(req, ref);
  if (adjust == "none" || !changes.contains("geometry") || changes["geometry"].is_null()) {
    auto result = reg.areas.update(*conn, actor, ref.code, changes, write_options(crs, if_match), replace);
    reg.after_write(*conn, {ref.code});
    return feature_answer(reg, *conn, c, actor, ref.code, crs, 200);
  }

  auto pass = reg.expensive.enter("the redraw");
  // The version the client edited (current, as edited_version checked): properties that differ
  // from it are the client's changes; the rest are echoes, which must not undo what the redraw
  // estimates (households and population by area share).
  const json read = json::parse(reg.areas.get(*conn, ref.code, std::nullopt, geom::kStorageSrid).feature)["properties"];
  json redraw = {{"geometry", changes["geometry"]}};
  if (changes.contains("properties")) {
    if (replace && !changes["properties"].contains("name")) throw unprocessable("missing_property", "PUT needs the name");
    // The changed properties travel with the geometry: the redraw writes both in one version, in
    // one transaction with the neighbours it adjusts, or nothing at all.
    redraw["properties"] =
        ogc_edit::changed_properties(replace ? ogc_edit::as_merge_patch(changes["properties"], read) : changes["properties"], read);
  }
  // The neighbours are adjusted as the server finds them; only the edited feature is the client's
  // precondition. A dry run names the ETags of every area the redraw touches; the real run then
  // requires exactly those, so a neighbour changed in between fails it (412) rather than being
  // adjusted from a state nobody looked at.
  toolkit::OperationOptions o{.srid = crs.srid, .repair = false, .dry_run = true, .if_match = {}};
  auto dry = toolkit.redraw(*conn, actor, ref.code, redraw, o, true);
  const std::string target = dry.body["touched"].value(ref.code, "");
  if (std::find(if_match.begin(), if_match.end(), "*") == if_match.end() &&
      std::find(if_match.begin(), if_match.end(), target) == if_match.end())
    throw Error(412, "precondition_failed", "the area has changed since it was read (current ETag " + target + ")",
                json({{"current_etag", target}}).dump());
  o.dry_run = false;
  for (const auto& [code, etag] : dry.body["touched"].items()) o.if_match.push_back(etag.get<std::string>());
  auto done = toolkit.redraw(*conn, actor, ref.code, redraw, o, true);
  reg.after_write(*conn, done.changed);
  Response r = feature_answer(reg, *conn, c, actor, ref.code, crs, 200);
  // Which neighbours the redraw reshaped, for clients that want to reload them.
  json adjusted = json::array();
  for (const auto& code : done.changed)
    if (code != ref.code) adjusted.push_back(code);
  json f = json::parse(r.body);
  f["adjusted"] = adjusted;
  r.body = f.dump();
  return r;
}

Response remove(registry::Registry& reg, const Request& req) {
  auto actor = reg.authenticate(req);
  const auto& c = editable_collection(req);
  only_parameters(req, {});
  actor.require_edit_role();
  auto conn = reg.pool.acquire();
  const auto ref = edited_version(*conn, c, req.path_param("fid"));
  reg.areas.retire(*conn, actor, ref.code, write_options(ogc::Crs{}, preconditions(req, ref)));
  reg.after_write(*conn, {ref.code});
  return http::empty_response(204);
}

// A refused edit as problem+json whose title says, in Chinese and English, what the rule was: GIS
// clients show the title (and seldom the detail) in their error message.
http::Handler titled(std::function<Response(const Request&)> handler) {
  return [handler = std::move(handler)](const Request& req) {
    log_edit(req);
    try {
      return handler(req);
    } catch (const Error& e) {
      Response r = http::problem(e.status(), e.code(), e.what(), e.extra_json());
      if (auto title = ogc_edit::refusal_title(e.code())) {
        json doc = json::parse(r.body);
        doc["title"] = *title;
        r.body = doc.dump();
      }
      log::info("ogc edit refused: " + req.method + " " + req.path + " -> " + std::to_string(e.status()) + " " + e.code());
      return r;
    }
  };
}

}  // namespace

void add_ogc_edit_routes(http::RouteTable& routes, const ExchangeServices& services) {
  registry::Registry* reg = &services.registry;
  const toolkit::Toolkit* toolkit = &services.toolkit;
  routes.add("POST", "/ogc/collections/{collection}/items", titled([reg](const Request& req) { return create(*reg, req); }));
  routes.add("PUT", "/ogc/collections/{collection}/items/{fid}",
             titled([reg, toolkit](const Request& req) { return change(*reg, *toolkit, req, true); }));
  routes.add("PATCH", "/ogc/collections/{collection}/items/{fid}",
             titled([reg, toolkit](const Request& req) { return change(*reg, *toolkit, req, false); }));
  routes.add("DELETE", "/ogc/collections/{collection}/items/{fid}", titled([reg](const Request& req) { return remove(*reg, req); }));
}

}  // namespace wangge::exchange
