#include "route/nearest.hpp"

#include <cmath>
#include <limits>
#include <queue>

namespace wangge::route {

std::vector<std::optional<Cost>> costs_to(const Graph& g, const std::vector<std::optional<Snap>>& from, const Snap& to) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<std::optional<Cost>> out(from.size());
  const auto target = g.edge(to.edge);
  if (target.speed_ms <= 0) return out;
  // Arcs reversed: for each node, the arcs that arrive at it (their tail, the edge).
  const std::size_t n = g.nodes();
  std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> into(n);
  for (std::uint32_t e = 0; e < g.edge_count(); ++e) {
    const auto v = g.edge(e);
    if (v.speed_ms <= 0) continue;
    if (v.forward) into[v.to].emplace_back(v.from, e);
    if (v.backward) into[v.from].emplace_back(v.to, e);
  }
  std::vector<double> time(n, kInf), dist(n, kInf);
  using Item = std::pair<double, std::uint32_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
  auto seed = [&](std::uint32_t v, double metres) {
    const double t = metres / target.speed_ms;
    if (t < time[v]) time[v] = t, dist[v] = metres, heap.emplace(t, v);
  };
  // The target is entered from its first node when the edge runs forward, from its last when backward.
  if (target.forward) seed(target.from, to.offset_m);
  if (target.backward) seed(target.to, target.length_m - to.offset_m);
  while (!heap.empty()) {
    auto [t, u] = heap.top();
    heap.pop();
    if (t > time[u]) continue;
    for (auto [w, e] : into[u]) {
      const auto v = g.edge(e);
      const double nt = t + v.length_m / v.speed_ms;
      if (nt < time[w]) time[w] = nt, dist[w] = dist[u] + v.length_m, heap.emplace(nt, w);
    }
  }
  for (std::size_t i = 0; i < from.size(); ++i) {
    if (!from[i]) continue;
    const Snap& s = *from[i];
    const auto v = g.edge(s.edge);
    if (v.speed_ms <= 0) continue;
    double best_t = kInf, best_d = kInf;
    auto offer = [&](double t, double d) {
      if (t < best_t) best_t = t, best_d = d;
    };
    if (s.edge == to.edge) {
      const double d = std::abs(to.offset_m - s.offset_m);
      if ((to.offset_m >= s.offset_m && v.forward) || (to.offset_m <= s.offset_m && v.backward)) offer(d / v.speed_ms, d);
    }
    if (v.forward && time[v.to] < kInf) {
      const double m = v.length_m - s.offset_m;
      offer(m / v.speed_ms + time[v.to], m + dist[v.to]);
    }
    if (v.backward && time[v.from] < kInf) offer(s.offset_m / v.speed_ms + time[v.from], s.offset_m + dist[v.from]);
    if (best_t < kInf) out[i] = Cost{best_d, best_t};
  }
  return out;
}

}  // namespace wangge::route
