// Tile paths /tiles/{layers}/{z}/{x}/{y}.mvt: the z, x and y parts as the route table hands them to
// tiles::parse_tile. A parsed tile is always a valid one.
#include <cstdint>
#include <string>

#include "tiles/tile_math.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view path(reinterpret_cast<const char*>(data), size);
  const auto a = path.find('/');
  const auto b = a == std::string_view::npos ? a : path.find('/', a + 1);
  if (b == std::string_view::npos) return 0;
  const auto t = wangge::tiles::parse_tile(path.substr(0, a), path.substr(a + 1, b - a - 1), path.substr(b + 1));
  if (t) {
    if (!wangge::tiles::valid(*t)) __builtin_trap();
    const auto box = wangge::tiles::bounds(*t);
    if (!(box.minx < box.maxx && box.miny < box.maxy)) __builtin_trap();
  }
  return 0;
}
