// Minimum-cost assignment of a square matrix: the Hungarian method with potentials (shortest
// augmenting paths), O(n^3). Shared by the tour's lower bound and the postman's matching.
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <vector>

namespace wangge::route {

// `cost(i, j)` for rows and columns 0..n-1, finite (price forbidden pairs high, not infinite).
// Returns, per row, the column it is assigned.
template <typename Cost>
std::vector<std::size_t> min_cost_assignment(std::size_t n, const Cost& cost) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // 1-based internally: index 0 is the augmenting path's virtual root.
  std::vector<double> u(n + 1, 0), v(n + 1, 0), minv(n + 1);
  std::vector<std::size_t> p(n + 1, 0), way(n + 1, 0);
  std::vector<char> used(n + 1);
  for (std::size_t i = 1; i <= n; ++i) {
    p[0] = i;
    std::size_t j0 = 0;
    std::fill(minv.begin(), minv.end(), kInf);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[j0] = 1;
      const std::size_t i0 = p[j0];
      double delta = kInf;
      std::size_t j1 = 0;
      for (std::size_t j = 1; j <= n; ++j) {
        if (used[j]) continue;
        const double cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
        if (cur < minv[j]) minv[j] = cur, way[j] = j0;
        if (minv[j] < delta) delta = minv[j], j1 = j;
      }
      for (std::size_t j = 0; j <= n; ++j) {
        if (used[j])
          u[p[j]] += delta, v[j] -= delta;
        else
          minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      const std::size_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0);
  }
  std::vector<std::size_t> to(n);
  for (std::size_t j = 1; j <= n; ++j) to[p[j] - 1] = j - 1;
  return to;
}

}  // namespace wangge::route
