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
// ... and as the layer keeps them in its value table.
using Value = std::variant<std::string, std::int64_t, double, bool>;

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
  bool add_point(std::uint64_t id, Point mercator, const TileTransform& tf, const Properties& props);
  // A polyline, clipped to the tile plus buffer (a line leaving and re-entering becomes several parts).
  bool add_line(std::uint64_t id, const std::vector<Point>& mercator, const TileTransform& tf, const Properties& props);
  bool empty() const { return m_features.empty(); }
  std::size_t size() const { return m_features.size(); }
  // Appends the layer message (Tile.layers, field 3) to `tile`.
  void write_to(std::string& tile) const;

 private:
  struct Feature {
    std::uint64_t id;
    int type;  // 1 point, 3 polygon
    std::vector<std::uint32_t> tags;
    std::vector<std::uint32_t> geometry;
  };
  std::vector<std::uint32_t> tags_of(const Properties& props);

  std::string m_name;
  std::uint32_t m_extent;
  std::int32_t m_buffer;
  std::vector<Feature> m_features;
  struct ViewHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>()(s); }
  };
  std::vector<std::string> m_keys;  // few per layer: searched linearly
  std::vector<Value> m_values;
  std::unordered_map<std::string, std::uint32_t, ViewHash, std::equal_to<>> m_string_index;
  std::unordered_map<std::int64_t, std::uint32_t> m_int_index;
  std::map<double, std::uint32_t> m_double_index;
  std::uint32_t m_bool_index[2] = {UINT32_MAX, UINT32_MAX};
};

// Exposed for tests: Sutherland-Hodgman clip of a closed ring against an axis-aligned square.
std::vector<std::pair<double, double>> clip_ring(const std::vector<std::pair<double, double>>& ring, double lo, double hi);

}  // namespace wangge::tiles
