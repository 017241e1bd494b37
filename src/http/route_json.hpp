// JSON pieces shared by the routing handlers (/v1/route, /v1/patrol): rounding of metres, seconds
// and degrees, and a GeoJSON LineString of EPSG:4490 positions.
#pragma once

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "route/router.hpp"

namespace wangge::http {

// Metres to centimetres, seconds to tenths, degrees to 1e-9: more digits would only repeat float noise.
inline double round_to(double v, double per_unit) { return std::round(v * per_unit) / per_unit; }

inline nlohmann::json line_string(const std::vector<route::LonLat>& coords) {
  nlohmann::json c = nlohmann::json::array();
  for (const auto& p : coords) c.push_back({round_to(p[0], 1e9), round_to(p[1], 1e9)});
  return {{"type", "LineString"}, {"coordinates", std::move(c)}};
}

}  // namespace wangge::http
