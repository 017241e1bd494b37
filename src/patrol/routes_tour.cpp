// POST /v1/patrol/tour: a grid worker's checkpoint tour on the in-memory street graph
// (src/route/patrol.hpp has the rules). Input points in EPSG:4490 unless `crs` says otherwise;
// output always EPSG:4490, times in seconds from the start of the shift.
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.hpp"
#include "crs/point_crs.hpp"
#include "http/params.hpp"
#include "http/router.hpp"
#include "route/http_json.hpp"
#include "patrol/routes.hpp"
#include "route/patrol.hpp"

namespace wangge::patrol {

using namespace http;  // Request, Response, json_body, the parameter parsers
using route::line_string;
using route::profile_of;
using route::round_to;
namespace {

using nlohmann::json;
constexpr std::size_t kMaxCheckpoints = 300;
constexpr double kMaxShiftMinutes = 24 * 60;

std::string index_extra(std::size_t i) { return json{{"index", i}}.dump(); }

// A GeoJSON Point in the request's CRS -> EPSG:4490 lon/lat.
route::LonLat point_of(const json& v, const crs::PointCrs& crs, const std::string& what, const std::string& extra = {}) {
  if (!v.is_object() || v.value("type", json()) != "Point" || !v.contains("coordinates") || !v["coordinates"].is_array() ||
      v["coordinates"].size() < 2 || v["coordinates"].size() > 3 || !v["coordinates"][0].is_number() || !v["coordinates"][1].is_number())
    throw bad_request("invalid_geojson", what + " must be a GeoJSON Point {\"type\": \"Point\", \"coordinates\": [x, y]}", extra);
  const double x = v["coordinates"][0].get<double>(), y = v["coordinates"][1].get<double>();
  LonLat p{};
  try {
    p = crs::to_storage(crs, x, y);
  } catch (const bad_request& e) {
    throw bad_request(e.code(), what + ": " + e.what(), extra);
  }
  if (!std::isfinite(p.lon) || !std::isfinite(p.lat) || p.lon < -180 || p.lon > 180 || p.lat < -90 || p.lat > 90)
    throw bad_request("invalid_coordinates", what + " is not a position on the earth in " + crs.name(), extra);
  return p;
}

double number_of(const json& cp, const char* name, double fallback, double min, double max, std::size_t i) {
  if (!cp.contains(name)) return fallback;
  const json& v = cp[name];
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < min || v.get<double>() > max)
    throw bad_request(
        "invalid_parameter",
        "checkpoint " + std::to_string(i) + ": " + name + " must be a number from " + json(min).dump() + " to " + json(max).dump(),
        index_extra(i));
  return v.get<double>();
}

Response tour(const PatrolServices& app, const Request& req) {
  json body = json_body(req);
  if (!body.is_object()) throw bad_request("invalid_body", "the body is a JSON object with checkpoints, start, profile, ...");
  const auto crs = crs::parse_point_crs(crs_text(req, &body));

  std::string profile_text = "foot";
  if (body.contains("profile")) {
    if (!body["profile"].is_string()) throw bad_request("unknown_profile", "profile must be foot, ebike or car");
    profile_text = body["profile"].get<std::string>();
  }
  const auto profile = route::parse_profile(profile_text);
  if (!profile) throw bad_request("unknown_profile", "profile must be foot, ebike or car", json{{"profile", profile_text}}.dump());

  if (!body.contains("checkpoints") || !body["checkpoints"].is_array() || body["checkpoints"].empty() ||
      body["checkpoints"].size() > kMaxCheckpoints)
    throw bad_request("invalid_parameter", "checkpoints holds 1 to " + std::to_string(kMaxCheckpoints) + " checkpoints");
  if (!body.contains("start")) throw bad_request("invalid_parameter", "start is required: a GeoJSON Point");

  route::PatrolRequest pr;
  pr.start = point_of(body["start"], crs, "start");
  if (body.contains("end") && !body["end"].is_null()) pr.end = point_of(body["end"], crs, "end");
  if (body.contains("max_minutes") && !body["max_minutes"].is_null()) {
    const json& v = body["max_minutes"];
    if (!v.is_number() || !(v.get<double>() > 0) || v.get<double>() > kMaxShiftMinutes)
      throw bad_request("invalid_parameter", "max_minutes must be a number above 0 and at most 1440");
    pr.max_s = v.get<double>() * 60;
  }
  std::optional<std::string> vary_text = req.param("vary");
  if (!vary_text && body.contains("vary") && !body["vary"].is_null())
    vary_text = body["vary"].is_number_unsigned() ? std::to_string(body["vary"].get<std::uint64_t>()) : std::string("x");
  if (vary_text) {
    std::uint64_t seed = 0;
    const char* b = vary_text->data();
    auto r = std::from_chars(b, b + vary_text->size(), seed);
    if (vary_text->empty() || r.ec != std::errc() || r.ptr != b + vary_text->size())
      throw bad_request("invalid_parameter", "vary must be a non-negative integer (a seed)");
    pr.vary = seed;
  }

  std::vector<json> ids;
  std::set<std::string> seen;
  const json& cps = body["checkpoints"];
  for (std::size_t i = 0; i < cps.size(); ++i) {
    const json& cp = cps[i];
    const std::string at = "checkpoint " + std::to_string(i);
    if (!cp.is_object()) throw bad_request("invalid_parameter", at + " must be an object", index_extra(i));
    json id = cp.contains("id") ? cp["id"] : json(i);
    if (!id.is_string() && !id.is_number_integer())
      throw bad_request("invalid_parameter", at + ": id must be a string or an integer", index_extra(i));
    if (!seen.insert(id.dump()).second) throw bad_request("invalid_parameter", at + ": id " + id.dump() + " is used twice", index_extra(i));
    if (!cp.contains("location")) throw bad_request("invalid_parameter", at + ": location is required", index_extra(i));
    route::Checkpoint c;
    c.location = point_of(cp["location"], crs, at + " location", index_extra(i));
    c.service_s = number_of(cp, "service_minutes", 0, 0, kMaxShiftMinutes, i) * 60;
    c.priority = number_of(cp, "priority", 1, 0.001, 1e6, i);
    if (cp.contains("time_window") && !cp["time_window"].is_null()) {
      const json& w = cp["time_window"];
      if (!w.is_array() || w.size() != 2 || !w[0].is_number() || !w[1].is_number() || w[0].get<double>() < 0 ||
          w[1].get<double>() < w[0].get<double>())
        throw bad_request("invalid_parameter",
                          at + ": time_window must be [open, close] in minutes from the start of the shift, open <= close", index_extra(i));
      c.window = std::array<double, 2>{w[0].get<double>() * 60, w[1].get<double>() * 60};
    }
    pr.checkpoints.push_back(c);
    ids.push_back(std::move(id));
  }

  const auto router = app.router.current();  // held to the end of the request: roads may be re-imported meanwhile
  if (!router) throw unavailable("router_not_ready", "the street network is not loaded");
  const route::PatrolPlan plan = route::plan_patrol(router->graph(*profile), pr);
  if (plan.failure) {
    const auto& [point, reason] = *plan.failure;
    throw unprocessable(
        "no_route",
        point + (reason == "unreachable" ? " cannot be reached from start with the " : " is more than 500 m from any street the ") +
            route::profile_name(*profile) + " profile" + (reason == "unreachable" ? "" : " may use"),
        json{{"point", point}, {"reason", reason}}.dump());
  }

  json stops = json::array(), unvisited = json::array();
  for (std::size_t k = 0; k < plan.stops.size(); ++k) {
    const auto& s = plan.stops[k];
    stops.push_back({{"sequence", k + 1},
                     {"id", ids[s.checkpoint]},
                     {"location", {round_to(s.snapped.lon, 1e9), round_to(s.snapped.lat, 1e9)}},
                     {"arrival", round_to(s.arrival_s, 10)},
                     {"start", round_to(s.start_s, 10)},
                     {"departure", round_to(s.departure_s, 10)}});
  }
  for (const auto& s : plan.skipped) unvisited.push_back({{"id", ids[s.checkpoint]}, {"reason", s.reason}});
  const double gap = plan.lower_bound_s > 0 ? std::max(0.0, plan.duration_s / plan.lower_bound_s - 1) : 0;
  json doc = {{"crs", "EPSG:4490"},
              {"profile", route::profile_name(*profile)},
              {"stops", std::move(stops)},
              {"unvisited", std::move(unvisited)},
              {"distance", round_to(plan.distance_m, 100)},
              {"duration", round_to(plan.duration_s, 10)},
              {"lower_bound", std::floor(plan.lower_bound_s * 10) / 10},
              {"gap", std::ceil(gap * 1e4) / 1e4},
              {"exact", plan.exact},
              {"geometry", line_string(plan.geometry)}};
  return json_response(200, doc.dump());
}

}  // namespace

void add_tour_routes(http::RouteTable& routes, const PatrolServices& services) {
  routes.add("POST", "/v1/patrol/tour", [services](const Request& req) {
    services.registry.authenticate(req);
    auto pass = services.registry.expensive.enter("the tour");
    return tour(services, req);
  });
}

}  // namespace wangge::patrol
