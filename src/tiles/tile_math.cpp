#include "tiles/tile_math.hpp"

#include <charconv>

namespace wangge::tiles {

std::optional<TileId> parse_tile(std::string_view zs, std::string_view xs, std::string_view ys) {
  auto number = [](std::string_view s, std::uint64_t& out) {
    if (s.empty() || s.size() > 10) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
  };
  std::uint64_t z, x, y;
  if (!number(zs, z) || !number(xs, x) || !number(ys, y) || z > kMaxZoom) return std::nullopt;
  TileId t{static_cast<int>(z), static_cast<std::uint32_t>(x), static_cast<std::uint32_t>(y)};
  if (x >= tiles_per_side(t.z) || y >= tiles_per_side(t.z)) return std::nullopt;
  return t;
}

}  // namespace wangge::tiles
