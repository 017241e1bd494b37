// GET /v1/dispatch/nearest-workers: workers ranked by network time from their latest position to an
// incident (one backward search on the profile's graph); POST /v1/workers/{id}/position.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "crs/point_crs.hpp"
#include "http/params.hpp"
#include "http/router.hpp"
#include "route/http_json.hpp"
#include "patrol/routes.hpp"
#include "patrol/positions.hpp"
#include "registry/codes.hpp"
#include "route/nearest.hpp"

namespace wangge::patrol {

using namespace http;  // Request, Response, json_body, the parameter parsers
using route::line_string;
using route::profile_of;
using route::round_to;
namespace {

using nlohmann::json;
constexpr std::size_t kMaxListed = 100;  // workers without a usable position listed at most

double number_param(const Request& req, const char* name) {
  auto v = req.param(name);
  double x = 0;
  if (!v || v->empty()) throw bad_request("invalid_parameter", std::string(name) + " is required");
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
  if (ec != std::errc() || end != v->data() + v->size() || !std::isfinite(x))
    throw bad_request("invalid_parameter", std::string(name) + " must be a number");
  return x;
}

json worker_json(const patrol::Candidate& c) {
  json w = {{"id", c.id}, {"name", c.name}, {"area", c.area}, {"grids", c.grids}};
  w["position_at"] = c.at.empty() ? json() : json(c.at);
  if (c.lon) w["position"] = {{"type", "Point"}, {"coordinates", {round_to(*c.lon, 1e9), round_to(*c.lat, 1e9)}}};
  return w;
}

Response nearest(const PatrolServices& app, const Request& req) {
  auto actor = app.registry.authenticate(req);
  const double x = number_param(req, "lon"), y = number_param(req, "lat");
  const auto crs = crs::parse_point_crs(crs_text(req));
  const auto p = crs::to_storage(crs, x, y);
  const auto profile = profile_of(req.param("profile").value_or("foot"));
  const auto k = static_cast<std::size_t>(int_param(req, "k", 5, 1, 100));
  const double max_age_s = static_cast<double>(int_param(req, "max_age", 3600, 1, 30 * 86400));
  const auto router = route::router_of(app.router);  // held to the end of the request
  const auto grid = req.param("grid");
  if (grid && (grid->size() > 40 || !registry::all_digits(*grid))) throw bad_request("invalid_parameter", "grid must be an area code");
  const route::Graph& g = router->graph(profile);
  auto incident = g.snap({p.lon, p.lat}, route::Router::kMaxSnapM);
  if (!incident)
    throw unprocessable(
        "no_route", std::string("the incident is more than 500 m from any street the ") + route::profile_name(profile) + " profile may use",
        json{{"point", "incident"}, {"reason", "too_far_from_street"}}.dump());
  const patrol::PositionStore store;
  auto candidates = store.candidates(*app.registry.pool.acquire(), actor, req.param("area"));
  // grid=: only the workers a case in that grid may be dispatched to (the rule PATCH /v1/incidents
  // applies: assigned to the grid, or belonging to an area that contains it), so that the nearest
  // offered is one the dispatch accepts.
  if (grid) {
    std::erase_if(candidates, [&](const patrol::Candidate& c) {
      const bool assigned = std::any_of(c.grids.begin(), c.grids.end(), [&](const nlohmann::json& code) { return code == *grid; });
      return !assigned && !registry::code_within(*grid, c.area);
    });
  }

  std::vector<std::optional<route::Snap>> snaps;
  std::vector<std::size_t> who;
  json without = json::array();
  std::size_t without_count = 0;
  auto unavailable_worker = [&](const patrol::Candidate& c, const char* reason) {
    ++without_count;
    if (without.size() >= kMaxListed) return;
    json w = worker_json(c);
    w["reason"] = reason;
    without.push_back(std::move(w));
  };
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const auto& c = candidates[i];
    if (!c.lon) {
      unavailable_worker(c, "no_position");
      continue;
    }
    if (c.age_s > max_age_s) {
      unavailable_worker(c, "position_too_old");
      continue;
    }
    auto s = g.snap({*c.lon, *c.lat}, route::Router::kMaxSnapM);
    if (!s) {
      unavailable_worker(c, "too_far_from_street");
      continue;
    }
    snaps.push_back(s);
    who.push_back(i);
  }
  auto costs = route::costs_to(g, snaps, *incident);
  std::vector<std::pair<route::Cost, std::size_t>> ranked;
  for (std::size_t j = 0; j < snaps.size(); ++j) {
    if (costs[j])
      ranked.emplace_back(*costs[j], who[j]);
    else
      unavailable_worker(candidates[who[j]], "unreachable");
  }
  std::sort(ranked.begin(), ranked.end(), [&](const auto& a, const auto& b) {
    if (a.first.duration_s != b.first.duration_s) return a.first.duration_s < b.first.duration_s;
    return candidates[a.second].id < candidates[b.second].id;
  });
  json list = json::array();
  for (std::size_t j = 0; j < ranked.size() && j < k; ++j) {
    json w = worker_json(candidates[ranked[j].second]);
    w["duration"] = round_to(ranked[j].first.duration_s, 10);
    w["distance"] = round_to(ranked[j].first.distance_m, 100);
    list.push_back(std::move(w));
  }
  json doc = {{"incident", {{"type", "Point"}, {"coordinates", {round_to(p.lon, 1e9), round_to(p.lat, 1e9)}}}},
              {"crs", "EPSG:4490"},
              {"profile", route::profile_name(profile)},
              {"max_age", max_age_s},
              {"workers", std::move(list)},
              {"ranked_count", ranked.size()},
              {"without_position", std::move(without)},
              {"without_position_count", without_count}};
  return json_response(200, doc.dump());
}

}  // namespace

void add_dispatch_routes(http::RouteTable& routes, const PatrolServices& services) {
  routes.add("GET", "/v1/dispatch/nearest-workers", [services](const Request& req) { return nearest(services, req); });
  routes.add("POST", "/v1/workers/{id}/position", [services](const Request& req) {
    long long id = 0;
    const std::string& text = req.path_param("id");
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size() || id <= 0)
      throw bad_request("invalid_parameter", "a worker id is a positive integer");
    auto actor = services.registry.authenticate(req);
    const PositionStore store;
    auto body = json_body(req);
    return json_response(201, store.record(*services.registry.pool.acquire(), actor, id, body, crs_text(req)).dump());
  });
}

}  // namespace wangge::patrol
