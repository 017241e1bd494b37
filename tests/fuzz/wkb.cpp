// WKB as the database hands it over (bytes or hex text). Malformed input throws wkb_error; nothing
// is read out of bounds, and no allocation follows a bogus count.
#include <cmath>
#include <cstdint>
#include <string>

#include "geom/wkb.hpp"

using namespace wangge::geom;

namespace {

struct Counter {
  std::uint64_t polygons = 0, rings = 0, points = 0;
  double sum = 0;
  void polygon(std::uint32_t) { ++polygons; }
  void ring(const WkbPoints& p) {
    ++rings;
    points += p.size();
    for (std::uint32_t i = 0; i < p.size(); ++i) sum += p[i].x + p[i].y;  // every point is inside the bytes
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    Counter c;
    read_polygonal(bytes, c);
    if (c.points * 16 > size) __builtin_trap();
  } catch (const wkb_error&) {
  }
  try {
    const auto line = read_linestring(bytes);
    if (static_cast<std::size_t>(line.size()) * 16 > size) __builtin_trap();
    if (!line.empty()) (void)line[line.size() - 1];
  } catch (const wkb_error&) {
  }
  try {
    const std::string decoded = wkb_from_hex(bytes);
    Counter c;
    read_polygonal(decoded, c);
  } catch (const wkb_error&) {
  }
  return 0;
}
