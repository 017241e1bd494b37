// Shared-border generalisation. The polygons of one layer (all grids, say) are cut into arcs at
// their junctions, each shared border becomes ONE arc used by both neighbours, and every arc is
// simplified once (Douglas-Peucker, endpoints fixed). Polygons rebuilt from the simplified arcs keep
// their shared borders identical, so neighbours can never open a gap or overlap at any zoom — which
// per-polygon simplification (ST_SimplifyPreserveTopology) cannot promise.
//
// Borders are matched by identical vertices, as a clean partition has them (the sample, and areas
// cut by PostGIS split/union). Neighbours that meet without sharing vertices still render, each with
// its own arcs, but are not guaranteed gap-free at low zoom.
//
// The result is a pure function of the features' rings: a vertex is a junction when other than two
// distinct neighbours meet at it (over the unique edges of the whole layer); every ring is cut at its
// junctions, starting at its smallest junction (x, then y); a ring without junctions is one loop arc;
// an arc's vertices and importances depend only on its chain of points (stored in one canonical
// direction). So any two topologies of the same rings render every feature identically.
//
// Patching (`patch`) keeps that: after replacing, adding or removing features it renders every
// feature exactly as `build` of the new rings would. Why it is enough to look near the change:
//  - A vertex's junction status changes only if an edge at it is added or removed, i.e. only for
//    the vertices V of the changed features' old and new rings. Every feature holding such a vertex
//    has a bounding box meeting a changed shape's box: the `nearby` candidates N. Their rings and
//    the new rings give the new degree of every vertex of V exactly.
//  - An unchanged feature is cut where it was unless one of its vertices in V flips status; those
//    (the re-cut set R, returned) are cut again, with the old status for their vertices outside V
//    (read from where their old arcs start). Every other unchanged feature keeps its arcs as they
//    are: same chains, same objects.
//  - New chains (of changed and re-cut features) are matched against the arcs of N and of the old
//    changed features. A chain shared with an unchanged feature F is either made of V vertices
//    (then F is in N) or is one of a re-cut feature's old arcs (which are in N): so each shared
//    border stays ONE arc object used by both sides.
// Arcs no longer used stay in the table until the next full build (a few per edit).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "tiles/chunked.hpp"
#include "tiles/tile_math.hpp"

namespace wangge::tiles {

using Ring = std::vector<Point>;    // closed: first == last
using Polygon = std::vector<Ring>;  // exterior first, then holes
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

  // One feature's new shape: `feature` < size() replaces it (an empty shape removes it: it renders
  // as nothing and its box is empty); feature >= size() adds it (any features skipped are empty).
  struct Change {
    std::size_t feature;
    MultiPolygon shape;
  };
  // Appends to `out` the features whose box intersects `box` (touching counts): the caller's
  // spatial index over this topology's boxes.
  using Nearby = std::function<void(const Box& box, std::vector<std::size_t>& out)>;
  // A new topology sharing everything unchanged with this one, rendering every feature as `build`
  // of the changed rings would. `recut` gets the unchanged features whose arcs were cut anew (a
  // junction appeared or went where a changed feature meets them): they may render differently.
  Topology patch(const std::vector<Change>& changes, const Nearby& nearby, std::vector<std::size_t>& recut) const;

  std::size_t size() const { return m_features.size(); }
  const Box& bbox(std::size_t feature) const { return m_features[feature].bbox; }
  bool empty(std::size_t feature) const { return m_features[feature].polygons.empty(); }
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
  // Arcs some feature uses (a patched topology keeps unused ones until the next build).
  std::size_t used_arc_count() const;
  std::size_t vertex_count() const;

 private:
  struct Arc {
    std::vector<Point> points;
    std::vector<float> importance;  // per point; endpoints (and a loop's anchors) are +inf
    bool loop = false;              // a ring without junctions: it starts at no junction
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
    Box bbox{std::numeric_limits<double>::max(), std::numeric_limits<double>::max(), -std::numeric_limits<double>::max(),
             -std::numeric_limits<double>::max()};
  };
  class Builder;

  // A ring at full resolution, open (no closing point), with where its arcs start.
  void unfold(const TopoRing& ring, Ring& points, std::vector<char>& starts) const;

  Chunked<Arc> m_arcs;
  Chunked<TopoFeature> m_features;
};

}  // namespace wangge::tiles
