// The coordinate system a request point comes in, and its conversion to the storage CRS
// (CGCS2000 geographic, EPSG:4490, lon/lat) and back. EPSG systems go through PROJ; GCJ-02 and BD-09
// through crs/mars.hpp (they are offsets of WGS84, which is within centimetres of CGCS2000).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "crs/mars.hpp"

namespace wangge::crs {

enum class Kind { epsg, gcj02, bd09 };

struct PointCrs {
  Kind kind = Kind::epsg;
  int srid = 4490;           // for Kind::epsg
  std::string name() const;  // "EPSG:4490", "gcj02", "bd09"
};

// Accepts everything geom::parse_crs accepts, plus "gcj02"/"GCJ-02" and "bd09"/"BD-09" (any case).
// Throws bad_request("unsupported_crs") otherwise; empty means EPSG:4490.
PointCrs parse_point_crs(std::string_view text);

// Converts (x, y) in `from` (axis order: easting/longitude first, whatever the EPSG definition
// says) to EPSG:4490 lon/lat, and back. Throws bad_request("invalid_coordinates") when the point
// cannot be transformed (outside the projection's domain).
LonLat to_storage(const PointCrs& from, double x, double y);
LonLat from_storage(const PointCrs& to, LonLat p);

// One PROJ transformation between two EPSG codes, lon/lat (x/y) order on both sides.
// Owns its PJ_CONTEXT and PJ; use it from one thread at a time (PROJ objects are not thread-safe).
class ProjTransform {
 public:
  ProjTransform(int from_srid, int to_srid);
  ~ProjTransform();
  ProjTransform(const ProjTransform&) = delete;
  ProjTransform& operator=(const ProjTransform&) = delete;
  // False when PROJ cannot transform the point (HUGE_VAL or an error).
  bool apply(double& x, double& y) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace wangge::crs
