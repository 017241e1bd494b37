// /v1/route and /v1/route/matrix: shortest paths on the in-memory street graph (src/route). Nothing
// here touches the database; each request keeps the graph snapshot it started with.
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "http/params.hpp"
#include "http/router.hpp"
#include "route/http_json.hpp"
#include "route/routes.hpp"

namespace wangge::route {

using http::json_response;
using http::Request;
using http::Response;
using nlohmann::json;

Profile profile_of(const std::string& name) {
  if (auto p = parse_profile(name)) return *p;
  throw bad_request("unknown_profile", "profile must be foot, ebike or car", json{{"profile", name}}.dump());
}

std::shared_ptr<const Router> router_of(const RouterCache& cache) {
  auto r = cache.current();
  if (!r) throw unavailable("router_not_ready", "the street network is not loaded");
  return r;
}

namespace {

using nlohmann::json;
constexpr std::size_t kMaxMatrixPoints = 100;

bool plausible(double lon, double lat) {
  return std::isfinite(lon) && std::isfinite(lat) && lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90;
}

route::LonLat point_param(const Request& req, const std::string& name) {
  auto v = req.param(name);
  if (!v || v->empty()) throw bad_request("invalid_parameter", name + " is required: lon,lat in EPSG:4490");
  const auto comma = v->find(',');
  double lon = 0, lat = 0;
  bool ok = comma != std::string::npos;
  if (ok) {
    const char* b = v->data();
    auto r1 = std::from_chars(b, b + comma, lon);
    auto r2 = std::from_chars(b + comma + 1, b + v->size(), lat);
    ok = r1.ec == std::errc() && r1.ptr == b + comma && r2.ec == std::errc() && r2.ptr == b + v->size();
  }
  if (!ok || !plausible(lon, lat)) throw bad_request("invalid_parameter", name + " must be lon,lat in degrees (EPSG:4490)");
  return {lon, lat};
}

Response shortest(const RouterCache& cache, const Request& req) {
  const auto from = point_param(req, "from"), to = point_param(req, "to");
  const auto profile = profile_of(req.param("profile").value_or("foot"));
  const auto router = router_of(cache);  // held to the end of the request
  const route::Graph& g = router->graph(profile);
  auto snap = [&](const route::LonLat& p, const char* which) {
    auto s = g.snap(p, route::Router::kMaxSnapM);
    if (!s)
      throw unprocessable(
          "no_route", std::string(which) + " is more than 500 m from any street the " + route::profile_name(profile) + " profile may use",
          json{{"point", which}, {"reason", "too_far_from_street"}}.dump());
    return *s;
  };
  const auto a = snap(from, "from"), b = snap(to, "to");
  auto path = g.route(a, b);
  if (!path)
    throw unprocessable("no_route", std::string("to cannot be reached from from with the ") + route::profile_name(profile) + " profile",
                        json{{"point", "to"}, {"reason", "unreachable"}}.dump());
  json doc = {{"geometry", line_string(path->coordinates)},
              {"distance", round_to(path->distance_m, 100)},
              {"duration", round_to(path->duration_s, 10)},
              {"profile", route::profile_name(profile)}};
  return json_response(200, doc.dump());
}

Response matrix(const RouterCache& cache, const Request& req) {
  json body = http::json_body(req);
  if (!body.is_object() || !body.contains("points") || !body["points"].is_array())
    throw bad_request("invalid_parameter", "the body is {\"points\": [[lon, lat], ...], \"profile\": ...}");
  const json& pts = body["points"];
  if (pts.empty() || pts.size() > kMaxMatrixPoints)
    throw bad_request("invalid_parameter", "points holds 1 to " + std::to_string(kMaxMatrixPoints) + " positions");
  std::string profile_text = "foot";
  if (body.contains("profile")) {
    if (!body["profile"].is_string()) throw bad_request("unknown_profile", "profile must be foot, ebike or car");
    profile_text = body["profile"].get<std::string>();
  }
  const auto profile = profile_of(profile_text);
  const auto router = router_of(cache);  // held to the end of the request
  const route::Graph& g = router->graph(profile);
  std::vector<std::optional<route::Snap>> snaps;
  json unreachable = json::array();
  for (std::size_t i = 0; i < pts.size(); ++i) {
    const json& p = pts[i];
    if (!p.is_array() || p.size() < 2 || !p[0].is_number() || !p[1].is_number() || !plausible(p[0].get<double>(), p[1].get<double>()))
      throw bad_request("invalid_parameter", "point " + std::to_string(i) + ": a position is [lon, lat] in degrees",
                        json{{"index", i}}.dump());
    snaps.push_back(g.snap({p[0].get<double>(), p[1].get<double>()}, route::Router::kMaxSnapM));
    if (!snaps.back()) unreachable.push_back(i);
  }
  // A point far from every street is reported once, per point; its row and column are null.
  json distances = json::array(), durations = json::array();
  for (std::size_t i = 0; i < snaps.size(); ++i) {
    json drow = json::array(), trow = json::array();
    std::vector<std::optional<route::Cost>> costs(snaps.size());
    if (snaps[i]) costs = g.costs(*snaps[i], snaps);
    for (const auto& c : costs) {
      drow.push_back(c ? json(round_to(c->distance_m, 100)) : json());
      trow.push_back(c ? json(round_to(c->duration_s, 10)) : json());
    }
    distances.push_back(std::move(drow));
    durations.push_back(std::move(trow));
  }
  json doc = {{"distances", std::move(distances)},
              {"durations", std::move(durations)},
              {"profile", route::profile_name(profile)},
              {"unreachable_points", std::move(unreachable)}};
  return json_response(200, doc.dump());
}

}  // namespace

void add_routes(http::RouteTable& routes, registry::Registry& reg, const RouterCache& cache) {
  registry::Registry* r = &reg;
  const RouterCache* c = &cache;
  routes.add("GET", "/v1/route", [r, c](const Request& req) {
    r->authenticate(req);
    return shortest(*c, req);
  });
  routes.add("POST", "/v1/route/matrix", [r, c](const Request& req) {
    r->authenticate(req);
    auto pass = r->expensive.enter("the matrix");
    return matrix(*c, req);
  });
}

}  // namespace wangge::route
