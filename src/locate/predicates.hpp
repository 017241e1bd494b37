// Exact geometric predicates on doubles: a filtered orientation test that falls back to exact
// expansion arithmetic (Shewchuk's two-sum/two-product) when rounding could flip the sign. The
// locator's answers depend on these signs, so they must never be wrong, only sometimes slower.
#pragma once

#include <cmath>

namespace wangge::locate {

struct Pt {
  double x = 0;
  double y = 0;
};
inline bool operator==(Pt a, Pt b) { return a.x == b.x && a.y == b.y; }

namespace detail {

inline void two_sum(double a, double b, double& s, double& e) {
  s = a + b;
  const double bb = s - a;
  e = (a - (s - bb)) + (b - bb);
}
inline void two_product(double a, double b, double& p, double& e) {
  p = a * b;
  e = std::fma(a, b, -p);
}

// The sign of the exact value of (b-a)x(p-a), computed with nonoverlapping expansions.
int orient_exact(Pt a, Pt b, Pt p);

}  // namespace detail

// +1 when p lies left of the directed line a->b, -1 right of it, 0 exactly on it.
inline int orient(Pt a, Pt b, Pt p) {
  const double l = (b.x - a.x) * (p.y - a.y);
  const double r = (b.y - a.y) * (p.x - a.x);
  const double det = l - r;
  // Shewchuk's ccwerrboundA: beyond it the floating-point sign is certainly right.
  constexpr double eps = 1.1102230246251565e-16;  // 2^-53
  constexpr double bound = (3.0 + 16.0 * eps) * eps;
  const double err = bound * (std::fabs(l) + std::fabs(r));
  if (det > err) return 1;
  if (-det > err) return -1;
  return detail::orient_exact(a, b, p);
}

// p lies on the closed segment a-b (exactly).
inline bool on_segment(Pt a, Pt b, Pt p) {
  if (p.x < std::fmin(a.x, b.x) || p.x > std::fmax(a.x, b.x) || p.y < std::fmin(a.y, b.y) || p.y > std::fmax(a.y, b.y)) return false;
  return orient(a, b, p) == 0;
}

// The closed segments a-b and c-d share at least one point (exactly).
bool segments_touch(Pt a, Pt b, Pt c, Pt d);

// The closed segment a-b meets the closed box [x0,x1]x[y0,y1] (exactly).
bool segment_touches_box(Pt a, Pt b, double x0, double y0, double x1, double y1);

}  // namespace wangge::locate
