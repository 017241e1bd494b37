// Pieces shared by the handlers on the street graphs (/v1/route here; /v1/patrol/* and dispatch in
// src/patrol): rounding of metres, seconds and degrees, a GeoJSON LineString of EPSG:4490
// positions, the profile parameter and the graph snapshot a request keeps to its end.
#pragma once

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "route/router.hpp"
#include "route/router_cache.hpp"

namespace wangge::route {

// Metres to centimetres, seconds to tenths, degrees to 1e-9: more digits would only repeat float noise.
inline double round_to(double v, double per_unit) { return std::round(v * per_unit) / per_unit; }

inline nlohmann::json line_string(const std::vector<LonLat>& coords) {
  nlohmann::json c = nlohmann::json::array();
  for (const auto& p : coords) c.push_back({round_to(p.lon, 1e9), round_to(p.lat, 1e9)});
  return {{"type", "LineString"}, {"coordinates", std::move(c)}};
}

// 400 unknown_profile for anything but foot, ebike, car.
Profile profile_of(const std::string& name);
// The current street graph snapshot; hold it for the whole request (roads may be re-imported
// meanwhile). 503 router_not_ready until `serve` has loaded the streets.
std::shared_ptr<const Router> router_of(const RouterCache& cache);

}  // namespace wangge::route
