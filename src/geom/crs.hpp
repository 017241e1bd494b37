// The coordinate reference systems a request may name, as EPSG codes PostGIS knows.
#pragma once

#include <optional>
#include <string_view>

namespace wangge::geom {

constexpr int kStorageSrid = 4490;  // CGCS2000 geographic, lon/lat: everything is stored in it

// Accepts "EPSG:4490", "4490", "urn:ogc:def:crs:EPSG::4490", "http://www.opengis.net/def/crs/EPSG/0/4490"
// and OGC CRS84 (= 4326, lon/lat). Supported: 4490, 4326, 3857 and the CGCS2000 Gauss-Krüger zones
// 4527-4529 (with zone prefix) and 4548-4550. Throws bad_request("unsupported_crs") otherwise.
// An empty value means the storage CRS.
int parse_crs(std::string_view text);

// The coordinates a projected CRS is defined for, as x (easting) and y (northing) bounds in metres.
// Outside them PROJ still answers, but wrongly: Web Mercator wraps x beyond ±πR around the globe (x =
// 3e7 becomes longitude −90.5), and a transverse Mercator far from its central meridian folds back.
// EPSG:3857: the square world, x and y within ±20,037,508.34 m (latitude ±85.05°). Gauss-Krüger
// zones: easting within 1,000 km of the central meridian (false easting 500 km, plus the zone
// number × 1,000 km for 4527-4529), far beyond the zone's ±1.5° yet where PROJ's transverse
// Mercator is still exact; northing 0 to 10,000 km (the northern hemisphere).
struct CrsDomain {
  double min_x, min_y, max_x, max_y;
  bool contains(double x, double y) const { return x >= min_x && x <= max_x && y >= min_y && y <= max_y; }
};
// std::nullopt for a geographic CRS (4490, 4326), whose range is checked in degrees.
std::optional<CrsDomain> projected_domain(int srid);

}  // namespace wangge::geom
