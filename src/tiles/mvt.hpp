// Mapbox Vector Tile 2.1 encoding with protozero: layers, features, the key/value tables, and the
// command-encoded geometry (MoveTo/LineTo/ClosePath, zigzag deltas, spec 4.3). Geometry comes in as
// tile coordinates (extent 4096 by default, y down); polygons are clipped to the tile plus a buffer
// and their rings oriented as the spec demands (exterior: positive surveyor's area, spec 4.3.4.4).
#pragma once

#include <cstdint>
#include <map>
#include <string_view>
#include <unordered_map>
#include <string>
#include <variant>
#include <vector>

#include "tiles/topology.hpp"

namespace wangge::tiles {

// Property values as the caller hands them (views into data that outlives the encoding) ...
using PropValue = std::variant<std::string_view, std::int64_t, double, bool>;
using Properties = std::vector<std::pair<std::string_view, PropValue>>;

// A 64-bit hash of bytes, the same in every process and run on one architecture: ETags are made of
// it, and the value table of a layer looks its strings up with it. About 8 bytes per cycle.
std::uint64_t content_hash(std::string_view bytes);

struct IPoint {
  std::int32_t x = 0, y = 0;
  friend bool operator==(const IPoint& a, const IPoint& b) { return a.x == b.x && a.y == b.y; }
};

// Maps mercator metres into one tile's integer grid.
struct TileTransform {
  Box box;
  std::uint32_t extent = 4096;
  double to_x(double mx) const { return (mx - box.minx) / box.width() * extent; }
  double to_y(double my) const { return (box.maxy - my) / box.height() * extent; }
};

class LayerEncoder {
 public:
  LayerEncoder(std::string name, std::uint32_t extent = 4096, std::int32_t buffer = 64)
      : m_name(std::move(name)), m_extent(extent), m_buffer(buffer) {}

  // Clips, rounds, orients; returns false when nothing of the feature is left in the tile.
  bool add_polygon(std::uint64_t id, const MultiPolygon& mercator, const TileTransform& tf, const Properties& props);
  // The same from flat rings (Topology::render into a reused buffer): the tile's hot path.
  bool add_polygon(std::uint64_t id, const FlatRings& mercator, const TileTransform& tf, const Properties& props);
  bool add_point(std::uint64_t id, Point mercator, const TileTransform& tf, const Properties& props);
  // A polyline, clipped to the tile plus buffer (a line leaving and re-entering becomes several parts).
  bool add_line(std::uint64_t id, const std::vector<Point>& mercator, const TileTransform& tf, const Properties& props);
  bool empty() const { return m_feature_ends.empty(); }
  std::size_t size() const { return m_feature_ends.size(); }
  // Appends the layer message (Tile.layers, field 3) to `tile`.
  void write_to(std::string& tile) const;
  // Starts a new, empty layer, keeping the buffers grown so far (one encoder serves many tiles).
  void reset(std::string_view name, std::uint32_t extent, std::int32_t buffer);

 private:
  using DPoint = std::pair<double, double>;
  // Appends one feature message's content to m_features from m_geometry and the properties.
  void commit(std::uint64_t id, int type, const Properties& props);
  // Encodes one ring of tile coordinates (m_ring) into m_geometry; false when nothing is left of it.
  bool append_ring(bool exterior, std::int32_t& cx, std::int32_t& cy);

  std::string m_name;
  std::uint32_t m_extent;
  std::int32_t m_buffer;
  // Features already encoded (each one's Feature message content, spec 4.2), back to back, and
  // where each ends: write_to only frames them.
  std::string m_features;
  std::vector<std::size_t> m_feature_ends;
  std::vector<std::string_view> m_keys;     // few per layer: searched linearly
  std::vector<std::uint32_t> m_last_value;  // per key: the value its last feature had
  // The value table holds views: Properties are views into data that outlives the encoding.
  using TableValue = std::variant<std::string_view, std::int64_t, double, bool>;
  std::vector<TableValue> m_values;
  // The strings of m_values by content: open addressing, a power of two of slots, each the layer's
  // generation (high half; older ones count as empty, so reset() need not clear) and 1 + the index.
  std::uint32_t string_value(std::string_view s);
  std::vector<std::uint64_t> m_string_slots;
  std::uint32_t m_strings = 0, m_generation = 1;
  std::unordered_map<std::int64_t, std::uint32_t> m_int_index;
  std::map<double, std::uint32_t> m_double_index;
  std::uint32_t m_bool_index[2] = {UINT32_MAX, UINT32_MAX};
  // Scratch, reused from feature to feature.
  std::vector<std::uint32_t> m_geometry, m_tags;
  std::vector<DPoint> m_ring, m_clip;
  std::vector<IPoint> m_pts;
  FlatRings m_flat;
};

// Exposed for tests: Sutherland-Hodgman clip of a closed ring against an axis-aligned square.
std::vector<std::pair<double, double>> clip_ring(const std::vector<std::pair<double, double>>& ring, double lo, double hi);

}  // namespace wangge::tiles
