// Douglas-Peucker of one polyline. Roads are simplified per tile like this: they share no borders,
// so the shared-arc generalisation of the area layers (topology.hpp) is not needed for them.
#pragma once

#include <vector>

#include "tiles/tile_math.hpp"

namespace wangge::tiles {

// The points of `in` that Douglas-Peucker keeps at `tolerance` (metres), endpoints always, into
// `out` (cleared first; the caller reuses it from line to line).
void simplify_line(const std::vector<Point>& in, double tolerance, std::vector<Point>& out);

}  // namespace wangge::tiles
