// A geographic point in degrees, longitude first (the GeoJSON and PostGIS order). Unless a name
// says otherwise it is EPSG:4490 (CGCS2000), the CRS of everything stored: areas, streets,
// checkpoints, positions. crs/mars.hpp also carries WGS84, GCJ-02 and BD-09 degrees in it and names
// the datum in each function's name. Projected metres (Gauss-Krüger, Web Mercator) and tile pixels
// are not LonLat.
#pragma once

namespace wangge {

struct LonLat {
  double lon = 0;
  double lat = 0;
  friend bool operator==(const LonLat&, const LonLat&) = default;
};

}  // namespace wangge
