// Structural checks of GeoJSON geometry before it goes to PostGIS: the checks PostGIS would either
// not make (unclosed rings are closed silently by some paths) or report without a location.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace wangge::geom {

// Accepts a Polygon or MultiPolygon. Throws bad_request("invalid_geojson") when the value is not
// GeoJSON geometry at all, and unprocessable("invalid_geometry") with {"reason","location"} for a
// ring that is unclosed, too short, or holds non-finite coordinates. Returns the compact JSON text.
std::string checked_polygonal(const nlohmann::json& geometry);

}  // namespace wangge::geom
