// Helpers shared by the routes on the street graphs (/v1/route, coverage, dispatch).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "http/context.hpp"

namespace wangge::http {

// 400 unknown_profile for anything but foot, ebike, car.
route::Profile profile_of(const std::string& name);
// 503 router_not_ready until `serve` has loaded the streets.
const route::Router& router_of(App& app);
// Metres to centimetres (per_unit 100), seconds to tenths (10), degrees to 1e-9.
double round_to(double v, double per_unit);
// GeoJSON LineString, EPSG:4490.
nlohmann::json line_string(const std::vector<route::LonLat>& coords);

}  // namespace wangge::http
