#include "locate/predicates.hpp"

#include <algorithm>

namespace wangge::locate {
namespace detail {
namespace {

// A nonoverlapping expansion in increasing order of magnitude (Shewchuk, "Adaptive precision
// floating-point arithmetic", Grow-Expansion with zero elimination). Sixteen terms at most here.
struct Expansion {
  double c[40];
  int n = 0;
  void add(double b) {
    double q = b;
    int m = 0;
    for (int i = 0; i < n; ++i) {
      double s, e;
      two_sum(q, c[i], s, e);
      if (e != 0) c[m++] = e;
      q = s;
    }
    c[m++] = q;
    n = m;
  }
  int sign() const {
    for (int i = n - 1; i >= 0; --i)
      if (c[i] != 0) return c[i] > 0 ? 1 : -1;
    return 0;
  }
};

}  // namespace

int orient_exact(Pt a, Pt b, Pt p) {
  // Each difference is exactly hi + lo; the products of those pairs are exact as two terms each.
  double d[4][2];
  two_sum(b.x, -a.x, d[0][0], d[0][1]);
  two_sum(p.y, -a.y, d[1][0], d[1][1]);
  two_sum(b.y, -a.y, d[2][0], d[2][1]);
  two_sum(p.x, -a.x, d[3][0], d[3][1]);
  Expansion sum;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) {
      double hi, lo;
      two_product(d[0][i], d[1][j], hi, lo);
      sum.add(lo);
      sum.add(hi);
      two_product(d[2][i], d[3][j], hi, lo);
      sum.add(-lo);
      sum.add(-hi);
    }
  }
  return sum.sign();
}

}  // namespace detail

bool segments_touch(Pt a, Pt b, Pt c, Pt d) {
  if (std::max(a.x, b.x) < std::min(c.x, d.x) || std::max(c.x, d.x) < std::min(a.x, b.x) || std::max(a.y, b.y) < std::min(c.y, d.y) ||
      std::max(c.y, d.y) < std::min(a.y, b.y))
    return false;
  const int o1 = orient(a, b, c), o2 = orient(a, b, d), o3 = orient(c, d, a), o4 = orient(c, d, b);
  if (o1 * o2 < 0 && o3 * o4 < 0) return true;
  return (o1 == 0 && on_segment(a, b, c)) || (o2 == 0 && on_segment(a, b, d)) || (o3 == 0 && on_segment(c, d, a)) ||
         (o4 == 0 && on_segment(c, d, b));
}

bool segment_touches_box(Pt a, Pt b, double x0, double y0, double x1, double y1) {
  if (std::max(a.x, b.x) < x0 || std::min(a.x, b.x) > x1 || std::max(a.y, b.y) < y0 || std::min(a.y, b.y) > y1) return false;
  // Separating axis: the bounding boxes overlap, so only the segment's own normal can separate.
  const int s0 = orient(a, b, {x0, y0}), s1 = orient(a, b, {x1, y0}), s2 = orient(a, b, {x1, y1}), s3 = orient(a, b, {x0, y1});
  return !((s0 > 0 && s1 > 0 && s2 > 0 && s3 > 0) || (s0 < 0 && s1 < 0 && s2 < 0 && s3 < 0));
}

}  // namespace wangge::locate
