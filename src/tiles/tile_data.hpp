// The data tiles are drawn from: one immutable snapshot of every layer's features, swapped whole
// after each change. Copies share their unchanged parts (Chunked, SharedRtree, the area layers).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tiles/chunked.hpp"
#include "tiles/config.hpp"
#include "tiles/rtree.hpp"
#include "tiles/topology.hpp"

namespace wangge::tiles {

// One area (polygon) feature.
struct Feature {
  bool live = true;  // false: retired since the layer was loaded (its slot keeps the code, see AreaLayer)
  std::uint64_t id = 0;
  std::string code, name, level, parent;
  std::int64_t workers = 0, open_incidents = 0;
  Point label;
};

// The areas of one level. Features sit in slots shared by `features`, `topo` and `index`. A load
// puts them in code order; a patch keeps every code in its slot (a retired one stays as a dead
// slot, out of the index) and gives a new code the next free slot, so the unchanged part is shared
// with the layer before.
struct AreaLayer {
  LayerSpec spec;
  Chunked<Feature> features;
  std::size_t sorted = 0;  // slots [0, sorted) are in code order: those of the last full load
  std::shared_ptr<const std::map<std::string, std::uint32_t>> added = std::make_shared<const std::map<std::string, std::uint32_t>>();
  Topology topo;
  SharedRtree index;

  std::optional<std::uint32_t> find(const std::string& code) const {
    std::size_t lo = 0, hi = sorted;
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      if (features[mid].code < code)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo < sorted && features[lo].code == code) return static_cast<std::uint32_t>(lo);
    if (auto it = added->find(code); it != added->end()) return it->second;
    return std::nullopt;
  }
  // Code order of two slots, which tiles draw in (the same bytes in every process, patched or not).
  bool before(std::uint32_t a, std::uint32_t b) const { return a < sorted && b < sorted ? a < b : features[a].code < features[b].code; }
};

// A changed area as read from the registry, before it is patched into its layer.
struct ChangedArea {
  Feature feature;
  MultiPolygon shape;
};

struct Incident {
  std::uint64_t id;
  Point at;
  std::string category, status, grid;
};

struct Checkpoint {
  std::uint64_t id;
  Point at;
  std::string name, kind, frequency, grid;
};

struct Road {
  std::uint64_t id;
  std::string name, highway;
  bool oneway;
  std::vector<Point> line;
};

struct TileData {
  std::map<std::string, std::shared_ptr<const AreaLayer>> areas;  // by layer name
  std::vector<Incident> incidents;
  SharedRtree incident_index;
  std::vector<Checkpoint> checkpoints;
  SharedRtree checkpoint_index;
  Chunked<Road> roads;
  SharedRtree road_index;
};

}  // namespace wangge::tiles
