// Structural checks of GeoJSON geometry before it goes to PostGIS: the checks PostGIS would either
// not make (unclosed rings are closed silently by some paths) or report without a location.
#pragma once

#include <cstddef>

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace wangge::geom {

// What one geometry of a request may hold. Every check and overlay of a geometry costs in
// proportion to its size, and a request may not hold a database worker for minutes.
struct GeometryLimits {
  std::size_t max_coordinates = 200000;  // positions, all rings together
  std::size_t max_parts = 1000;          // rings: the polygons' exterior rings and their holes
};
// Process-wide, because every writer of areas checks geometry through checked_polygonal: set once
// at start-up from the configuration (WANGGE_MAX_COORDINATES, WANGGE_MAX_PARTS) before requests
// are served.
void set_geometry_limits(const GeometryLimits& limits);
GeometryLimits geometry_limits();

// Accepts a Polygon or MultiPolygon. Throws bad_request("invalid_geojson") when the value is not
// GeoJSON geometry at all, and unprocessable("invalid_geometry") with {"reason","location"} for a
// ring that is unclosed, too short, or holds non-finite coordinates; Error 413 too_many_parts or
// too_many_coordinates (with the limit) above geometry_limits(), before any position is looked
// at. Returns the compact JSON text.
std::string checked_polygonal(const nlohmann::json& geometry);

}  // namespace wangge::geom
