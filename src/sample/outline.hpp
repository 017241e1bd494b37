// A real county outline for the sample jurisdiction: read from a DataV/AMap GeoJSON file (GCJ-02),
// converted to CGCS2000, and used to clip a generated partition so that every level still
// partitions its parent exactly (shared vertices, no gaps, no overlaps).
//
// CGCS2000 (EPSG:4490) is taken as WGS84 here: the two frames differ by a few centimetres, far
// below the metre-level accuracy of the GCJ-02 inverse and of the source polygon itself.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/lonlat.hpp"

namespace wangge::sample {

// Reads the first feature of a GeoJSON FeatureCollection (or a bare Feature/geometry) whose
// Polygon/MultiPolygon coordinates are GCJ-02, and answers a MULTIPOLYGON WKT in CGCS2000 with
// nanodegree coordinates. Throws std::runtime_error naming the file for anything unreadable; files
// above 64 MiB or with more than a million vertices are refused.
std::string read_gcj02_outline(const std::string& path);

struct Bounds {
  double min_lon = 0, min_lat = 0, max_lon = 0, max_lat = 0;
};

// The outline and the clipped partition, backed by GEOS (one context, this thread only).
class Clipper {
 public:
  // `outline_wkt`: POLYGON or MULTIPOLYGON, CGCS2000; repaired with MakeValid when invalid.
  explicit Clipper(const std::string& outline_wkt);
  ~Clipper();
  Clipper(const Clipper&) = delete;
  Clipper& operator=(const Clipper&) = delete;

  Bounds bounds() const;
  double outline_area_deg2() const;
  bool outline_contains(LonLat p) const;
  // Whether a LINESTRING touches the outline (streets that never reach the county are dropped).
  bool outline_intersects(const std::string& linestring_wkt) const;

  // Clips a partition of polygons (`leaf_wkt`, each a ring of the generated lattice) to the outline.
  // The leaves' boundaries and the outline are noded together once and polygonised, so that a
  // vertex that the outline adds to a shared edge is a vertex of both neighbours. A face is given to
  // the leaf that contains it; a detached part of a leaf (the outline cut it off) goes to the
  // neighbour that shares the longest border with it. A leaf with nothing left is empty.
  void clip(const std::vector<std::string>& leaf_wkt);
  bool leaf_empty(std::size_t leaf) const;
  // Leaves that lost ground to the outline (the border cuts them).
  std::size_t leaves_cut() const;
  bool leaf_contains(std::size_t leaf, LonLat p) const;
  LonLat point_on_leaf(std::size_t leaf) const;
  // MULTIPOLYGON WKT of the union of these clipped leaves (exact round-trip coordinates).
  std::string union_wkt(const std::vector<std::size_t>& leaves) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace wangge::sample
