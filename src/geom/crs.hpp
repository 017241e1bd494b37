// The coordinate reference systems a request may name, as EPSG codes PostGIS knows.
#pragma once

#include <string_view>

namespace wangge::geom {

constexpr int kStorageSrid = 4490;  // CGCS2000 geographic, lon/lat: everything is stored in it

// Accepts "EPSG:4490", "4490", "urn:ogc:def:crs:EPSG::4490", "http://www.opengis.net/def/crs/EPSG/0/4490"
// and OGC CRS84 (= 4326, lon/lat). Supported: 4490, 4326, 3857 and the CGCS2000 Gauss-Krüger zones
// 4527-4529 (with zone prefix) and 4548-4550. Throws bad_request("unsupported_crs") otherwise.
// An empty value means the storage CRS.
int parse_crs(std::string_view text);

}  // namespace wangge::geom
