// Shared-border generalisation. The polygons of one layer (all grids, say) are cut into arcs at
// their junctions, each shared border becomes ONE arc used by both neighbours, and every arc is
// simplified once (Douglas-Peucker, endpoints fixed). Polygons rebuilt from the simplified arcs keep
// their shared borders identical, so neighbours can never open a gap or overlap at any zoom — which
// per-polygon simplification (ST_SimplifyPreserveTopology) cannot promise.
//
// Borders are matched by identical vertices, as a clean partition has them (the sample, and areas
// cut by PostGIS split/union). Neighbours that meet without sharing vertices still render, each with
// its own arcs, but are not guaranteed gap-free at low zoom.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "tiles/tile_math.hpp"

namespace wangge::tiles {

using Ring = std::vector<Point>;          // closed: first == last
using Polygon = std::vector<Ring>;        // exterior first, then holes
using MultiPolygon = std::vector<Polygon>;

// One feature drawn into flat buffers that the caller keeps and reuses, so that drawing a tile
// allocates nothing once they have grown: every ring's points one after another (closed), and
// where each ring ends. A ring that starts a polygon is its exterior; the holes follow it.
struct FlatRings {
  struct End {
    std::uint32_t end;  // one past the ring's last point in `points`
    bool exterior;
  };
  std::vector<Point> points;
  std::vector<End> rings;
  void clear() {
    points.clear();
    rings.clear();
  }
};

class Topology {
 public:
  Topology() = default;
  // `features` in mercator metres. Rings must be closed; orientation does not matter.
  static Topology build(const std::vector<MultiPolygon>& features);

  std::size_t size() const { return m_features.size(); }
  const Box& bbox(std::size_t feature) const { return m_features[feature].bbox; }
  // The feature drawn at `tolerance` metres: every arc keeps the vertices whose Douglas-Peucker
  // importance is at least the tolerance. Rings that collapse below 4 points are left out.
  MultiPolygon render(std::size_t feature, double tolerance) const;
  // The same rings, into `out` (cleared first).
  void render(std::size_t feature, double tolerance, FlatRings& out) const;
  // A hint before rendering these features: asks the CPU for the memory render() will read, level
  // by level along its pointers, so that the cache misses of many features overlap rather than
  // come one after another. Changes nothing; render() is as correct without it.
  void prefetch(const std::uint32_t* features, std::size_t count) const;
  std::size_t arc_count() const { return m_arcs.size(); }
  std::size_t vertex_count() const;

 private:
  struct Arc {
    std::vector<Point> points;
    std::vector<float> importance;  // per point; endpoints (and a loop's anchors) are +inf
  };
  struct ArcRef {
    std::uint32_t arc;
    bool reversed;
  };
  struct TopoRing {
    std::vector<ArcRef> arcs;
  };
  struct TopoFeature {
    std::vector<std::vector<TopoRing>> polygons;
    Box bbox;
  };

  std::vector<Arc> m_arcs;
  std::vector<TopoFeature> m_features;
};

}  // namespace wangge::tiles
