// GCJ-02 ("Mars coordinates", AMap/Tencent) and BD-09 (Baidu), from the published formulas.
// All points are (lon, lat) in degrees. The GCJ-02 offset is defined only inside mainland China;
// elsewhere (including Taiwan, Hong Kong and Macau) the coordinates are WGS84 unchanged, so every
// transform here is the identity outside `in_mainland_china`.
#pragma once

#include "core/lonlat.hpp"

namespace wangge::crs {

using wangge::LonLat;

// True when the WGS84 point lies inside a coarse polygon of mainland China (a few kilometres of
// slack along the land borders and the coast; Taiwan, Hong Kong and Macau are left out). A
// bounding box would wrongly offset Taiwan, Hong Kong, Macau and parts of the neighbours.
bool in_mainland_china(LonLat p);

// Forward transforms, exactly as published (Krasovsky 1940 ellipsoid constants).
LonLat wgs84_to_gcj02(LonLat wgs);
LonLat gcj02_to_bd09(LonLat gcj);
LonLat wgs84_to_bd09(LonLat wgs);

// BD-09 -> GCJ-02 has the same fixed-point structure as GCJ-02 -> WGS84 and is solved the same way.
LonLat bd09_to_gcj02(LonLat bd);

// Inverses by fixed-point iteration until the forward transform of the result reproduces the input
// within `tolerance_deg` in both axes (default 1e-7 degrees, about 1 cm; the requirement is 1e-6).
// @post |forward(result) - input| <= tolerance_deg, or the input itself outside mainland China.
LonLat gcj02_to_wgs84(LonLat gcj, double tolerance_deg = 1e-7);
LonLat bd09_to_wgs84(LonLat bd, double tolerance_deg = 1e-7);

}  // namespace wangge::crs
