#include "tiles/simplify.hpp"

#include <cmath>
#include <cstddef>
#include <utility>

namespace wangge::tiles {

void simplify_line(const std::vector<Point>& in, double tolerance, std::vector<Point>& out) {
  out.clear();
  if (in.size() <= 2) {
    out = in;
    return;
  }
  std::vector<char> keep(in.size(), 0);
  keep.front() = keep.back() = 1;
  std::vector<std::pair<std::size_t, std::size_t>> stack{{0, in.size() - 1}};
  while (!stack.empty()) {
    auto [a, b] = stack.back();
    stack.pop_back();
    double best = -1;
    std::size_t at = a;
    const double dx = in[b].x - in[a].x, dy = in[b].y - in[a].y, len = std::hypot(dx, dy);
    for (std::size_t i = a + 1; i < b; ++i) {
      const double d =
          len > 0 ? std::abs(dy * (in[i].x - in[a].x) - dx * (in[i].y - in[a].y)) / len : std::hypot(in[i].x - in[a].x, in[i].y - in[a].y);
      if (d > best) best = d, at = i;
    }
    if (best > tolerance) {
      keep[at] = 1;
      stack.push_back({a, at});
      stack.push_back({at, b});
    }
  }
  for (std::size_t i = 0; i < in.size(); ++i)
    if (keep[i]) out.push_back(in[i]);
}

}  // namespace wangge::tiles
