// Web Mercator (EPSG:3857) and XYZ tile arithmetic. Pure, constexpr where it can be.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/lonlat.hpp"

namespace wangge::tiles {

constexpr double kEarthRadius = 6378137.0;
constexpr double kHalfWorld = 20037508.342789244;  // π·R: the mercator extent on each side of 0
constexpr int kMaxZoom = 24;

struct Point {
  double x = 0, y = 0;
  friend bool operator==(const Point& a, const Point& b) { return a.x == b.x && a.y == b.y; }
};

struct Box {
  double minx = 0, miny = 0, maxx = 0, maxy = 0;
  bool intersects(const Box& o) const { return minx <= o.maxx && o.minx <= maxx && miny <= o.maxy && o.miny <= maxy; }
  double width() const { return maxx - minx; }
  double height() const { return maxy - miny; }
};

// lon/lat in degrees (EPSG:4490 ≈ WGS84 at tile precision) → mercator metres.
inline Point to_mercator(double lon, double lat) {
  constexpr double kMaxLat = 85.0511287798066;
  lat = std::fmax(-kMaxLat, std::fmin(kMaxLat, lat));
  constexpr double d2r = 3.14159265358979323846 / 180.0;
  return {lon * d2r * kEarthRadius, std::log(std::tan(3.14159265358979323846 / 4 + lat * d2r / 2)) * kEarthRadius};
}

// Mercator metres → lon/lat in degrees.
inline LonLat to_lonlat(Point m) {
  constexpr double r2d = 180.0 / 3.14159265358979323846;
  return {m.x / kEarthRadius * r2d, (2 * std::atan(std::exp(m.y / kEarthRadius)) - 3.14159265358979323846 / 2) * r2d};
}

struct TileId {
  int z = 0;
  std::uint32_t x = 0, y = 0;
  friend bool operator==(const TileId& a, const TileId& b) { return a.z == b.z && a.x == b.x && a.y == b.y; }
};

// @pre 0 <= z <= kMaxZoom.
constexpr std::uint32_t tiles_per_side(int z) { return 1u << z; }

constexpr bool valid(const TileId& t) { return t.z >= 0 && t.z <= kMaxZoom && t.x < tiles_per_side(t.z) && t.y < tiles_per_side(t.z); }

// The tile's square in mercator metres (y grows north; tile rows grow south).
inline Box bounds(const TileId& t) {
  const double size = 2 * kHalfWorld / tiles_per_side(t.z);
  return {-kHalfWorld + t.x * size, kHalfWorld - (t.y + 1) * size, -kHalfWorld + (t.x + 1) * size, kHalfWorld - t.y * size};
}

// Size of one pixel of a 256-px tile at zoom z, in metres: the scale generalisation works at.
inline double pixel_size(int z) { return 2 * kHalfWorld / tiles_per_side(z) / 256.0; }

// Parses "z/x/y" parts; std::nullopt unless each is a plain non-negative integer in range.
std::optional<TileId> parse_tile(std::string_view z, std::string_view x, std::string_view y);

}  // namespace wangge::tiles
