// POST /v1/patrol/coverage: one closed walk covering the streets of an area (or listed streets),
// from the postman solver in src/route/coverage.hpp on the profile's graph. The area's streets are
// the ones PostGIS says intersect its polygon; everything else is computed in memory.
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/error.hpp"
#include "crs/point_crs.hpp"
#include "http/params.hpp"
#include "http/router.hpp"
#include "route/http_json.hpp"
#include "patrol/routes.hpp"
#include "patrol/fields.hpp"
#include "route/coverage.hpp"
#include "route/streets.hpp"

namespace wangge::patrol {

using namespace http;  // Request, Response, json_body, the parameter parsers
using route::line_string;
using route::profile_of;
using route::round_to;
namespace {

using nlohmann::json;
constexpr std::size_t kMaxRequiredStreets = 5000;

const char* mode_name(route::PostmanMode m) {
  switch (m) {
    case route::PostmanMode::undirected:
      return "undirected";
    case route::PostmanMode::directed:
      return "directed";
    case route::PostmanMode::mixed:
      return "mixed";
  }
  return "?";
}

// foot ignores one-way streets: undirected. car: directed, a two-way street is both kerbs. ebike:
// undirected on a symmetric graph, else mixed.
route::PostmanMode mode_of(const route::Graph& g) {
  if (g.profile() == route::Profile::foot) return route::PostmanMode::undirected;
  if (g.profile() == route::Profile::car) return route::PostmanMode::directed;
  for (std::uint32_t e = 0; e < g.edge_count(); ++e) {
    const auto v = g.edge(e);
    if (v.speed_ms > 0 && v.forward != v.backward) return route::PostmanMode::mixed;
  }
  return route::PostmanMode::undirected;
}

Response coverage(const PatrolServices& app, const Request& req) {
  auto actor = app.registry.authenticate(req);
  auto pass = app.registry.expensive.enter("the coverage walk");
  const json body = json_body(req);
  if (!body.is_object()) throw bad_request("invalid_body", "the body must be a JSON object");
  for (auto it = body.begin(); it != body.end(); ++it)
    if (it.key() != "area" && it.key() != "edges" && it.key() != "profile" && it.key() != "start" && it.key() != "crs" &&
        it.key() != "deadhead")
      throw unprocessable("unknown_property", "unknown property '" + it.key() + "'; allowed: area, edges, profile, start, crs, deadhead");
  if (body.contains("area") == body.contains("edges"))
    throw unprocessable("missing_property", "give either area (an area code) or edges (street ids)");
  std::string profile_text = "foot";
  if (body.contains("profile")) {
    if (!body["profile"].is_string()) throw bad_request("unknown_profile", "profile must be foot, ebike or car");
    profile_text = body["profile"].get<std::string>();
  }
  const auto profile = profile_of(profile_text);
  std::string deadhead = "network";
  if (body.contains("deadhead")) {
    if (!body["deadhead"].is_string() || (body["deadhead"] != "network" && body["deadhead"] != "required"))
      throw unprocessable("invalid_property",
                          "deadhead must be network (rural postman: any street) or required (only the streets to cover)");
    deadhead = body["deadhead"].get<std::string>();
  }
  std::optional<route::LonLat> start;
  if (body.contains("start") && !body["start"].is_null()) {
    const auto xy = patrol::geojson_point(body["start"], "start");
    start = crs::to_storage(crs::parse_point_crs(crs_text(req, &body)), xy[0], xy[1]);
  }

  // The streets to cover, by id.
  std::vector<long long> ids;
  std::optional<std::string> area;
  if (body.contains("area")) {
    if (!body["area"].is_string()) throw unprocessable("invalid_property", "area must be an area code");
    area = body["area"].get<std::string>();
    actor.require_read(*area);
    auto conn = app.registry.pool.acquire();
    auto geometry = app.registry.current_geometry_wkb(*conn, *area);
    if (!geometry) throw unprocessable("unknown_area", "area " + *area + " does not exist (or is retired)");
    ids = route::street_ids_intersecting(*conn, *geometry);
  } else {
    if (!body["edges"].is_array() || body["edges"].empty())
      throw unprocessable("invalid_property", "edges must be a non-empty array of street ids");
    for (const auto& v : body["edges"]) {
      if (!v.is_number_integer() || v.get<long long>() <= 0)
        throw unprocessable("invalid_property", "edges must hold street ids (positive integers)");
      ids.push_back(v.get<long long>());
    }
  }
  if (ids.size() > kMaxRequiredStreets)
    throw unprocessable("coverage_too_large", "at most " + std::to_string(kMaxRequiredStreets) + " streets per coverage request",
                        json{{"streets", ids.size()}}.dump());

  const auto router = route::router_of(app.router);  // held to the end of the request
  const route::Graph& g = router->graph(profile);
  const std::uint32_t n_edges = static_cast<std::uint32_t>(g.edge_count());
  std::unordered_map<long long, std::uint32_t> edge_of;
  for (std::uint32_t e = 0; e < n_edges; ++e) edge_of.emplace(g.edge(e).street_id, e);
  std::vector<std::uint32_t> required;
  json unknown = json::array(), skipped = json::array();
  for (long long id : ids) {
    auto it = edge_of.find(id);
    if (it == edge_of.end())
      unknown.push_back(id);
    else if (g.edge(it->second).speed_ms <= 0)
      skipped.push_back(id);
    else
      required.push_back(it->second);
  }
  if (!area && !unknown.empty())
    throw unprocessable("unknown_street", "no street has these ids (or they were added after the server started)",
                        json{{"streets", unknown}}.dump());
  if (required.empty())
    throw unprocessable("nothing_to_cover", std::string("no street to cover that the ") + route::profile_name(profile) + " profile may use",
                        json{{"skipped_streets", skipped}}.dump());

  const auto mode = mode_of(g);
  std::vector<char> is_required(n_edges, 0);
  for (auto e : required) is_required[e] = 1;
  std::vector<route::PostmanEdge> edges(n_edges);
  std::vector<route::LonLat> node_at(g.nodes());
  std::vector<route::LonLat> geom;
  for (std::uint32_t e = 0; e < n_edges; ++e) {
    const auto v = g.edge(e);
    const bool usable = v.speed_ms > 0 && (deadhead == "network" || is_required[e]);
    edges[e] = {v.from, v.to, usable ? v.length_m / v.speed_ms : 0, usable && v.forward, usable && v.backward};
    if (usable) {
      geom.clear();
      g.append_edge(e, route::Graph::Direction::forward, geom);
      node_at[v.from] = geom.front(), node_at[v.to] = geom.back();
    }
  }
  auto rank = [&](std::uint32_t node) { return start ? route::distance_m(node_at[node], *start) : 0.0; };
  auto outcome = route::postman(g.nodes(), edges, required, mode, rank);
  if (!outcome.result) {
    const char* reason = outcome.failure == route::PostmanFailure::unreachable ? "unreachable" : "unusable";
    throw unprocessable("no_route",
                        std::string("the streets to cover cannot be joined into one walk with the ") + route::profile_name(profile) +
                            " profile" + (deadhead == "required" ? " using only those streets" : ""),
                        json{{"reason", reason}}.dump());
  }
  const auto& r = *outcome.result;
  std::vector<route::LonLat> coords;
  json traversals = json::array();
  double distance = 0, service_m = 0;
  for (const auto& t : r.circuit) {
    const auto v = g.edge(t.edge);
    g.append_edge(t.edge, t.forward ? route::Graph::Direction::forward : route::Graph::Direction::backward, coords);
    distance += v.length_m;
    if (t.service) service_m += v.length_m;
    traversals.push_back({{"street", v.street_id},
                          {"direction", t.forward ? "forward" : "backward"},
                          {"service", t.service},
                          {"distance", round_to(v.length_m, 100)},
                          {"duration", round_to(v.length_m / v.speed_ms, 10)}});
  }
  json doc = {{"geometry", line_string(coords)},
              {"crs", "EPSG:4490"},
              {"profile", route::profile_name(profile)},
              {"mode", mode_name(mode)},
              {"problem", deadhead == "required" ? "chinese_postman" : "rural_postman"},
              {"method", r.method},
              // Optimal for the mode: one component, an exact matching or flow (or a heuristic matching
              // that met its own lower bound), and no mixed-orientation guess.
              {"exact", r.components <= 1 && mode != route::PostmanMode::mixed &&
                            (r.method != "heuristic_matching" || r.matching_cost <= *r.matching_lower_bound * (1 + 1e-9))},
              {"deadhead_on", deadhead},
              {"components", r.components},
              {"start", {{"type", "Point"}, {"coordinates", {round_to(node_at[r.start].lon, 1e9), round_to(node_at[r.start].lat, 1e9)}}}},
              {"distance", round_to(distance, 100)},
              {"duration", round_to(r.cost, 10)},
              {"required_length", round_to(service_m, 100)},
              {"deadhead_length", round_to(distance - service_m, 100)},
              {"traversals", std::move(traversals)},
              {"skipped_streets", std::move(skipped)},
              {"streets_not_in_graph", std::move(unknown)}};
  if (area) doc["area"] = *area;
  if (start) doc["start_offset"] = round_to(route::distance_m(node_at[r.start], *start), 100);
  if (r.matching_lower_bound)
    doc["matching"] = {{"duration", round_to(r.matching_cost, 10)}, {"lower_bound", round_to(*r.matching_lower_bound, 10)}};
  return json_response(200, doc.dump());
}

}  // namespace

void add_coverage_routes(http::RouteTable& routes, const PatrolServices& services) {
  routes.add("POST", "/v1/patrol/coverage", [services](const Request& req) { return coverage(services, req); });
}

}  // namespace wangge::patrol
