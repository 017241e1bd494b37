#include "route/coverage.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <numeric>
#include <queue>
#include <stdexcept>

#include "route/assignment.hpp"
#include "route/postman_phases.hpp"

namespace wangge::route {
namespace {

using postman_phases::Arc;
using postman_phases::DeadheadGraph;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

struct Tree {
  std::vector<double> dist;
  std::vector<std::uint32_t> pred_node, pred_edge;
  std::vector<char> pred_forward;
};

Tree dijkstra(const DeadheadGraph& g, const std::vector<std::uint32_t>& sources) {
  Tree t;
  t.dist.assign(g.size(), kInf);
  t.pred_node.assign(g.size(), kNone);
  t.pred_edge.assign(g.size(), kNone);
  t.pred_forward.assign(g.size(), 0);
  using Item = std::pair<double, std::uint32_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
  for (auto s : sources) {
    t.dist[s] = 0;
    heap.emplace(0, s);
  }
  while (!heap.empty()) {
    auto [d, u] = heap.top();
    heap.pop();
    if (d > t.dist[u]) continue;
    for (const Arc& a : g[u]) {
      const double nd = d + a.cost;
      if (nd < t.dist[a.to]) {
        t.dist[a.to] = nd, t.pred_node[a.to] = u, t.pred_edge[a.to] = a.edge, t.pred_forward[a.to] = a.forward;
        heap.emplace(nd, a.to);
      }
    }
  }
  return t;
}

// The traversals from the tree's source to v, in travel order.
std::vector<Traversal> path_to(const Tree& t, std::uint32_t v) {
  std::vector<Traversal> path;
  while (t.pred_edge[v] != kNone) {
    path.push_back({t.pred_edge[v], t.pred_forward[v] != 0, false});
    v = t.pred_node[v];
  }
  std::reverse(path.begin(), path.end());
  return path;
}

struct UnionFind {
  std::vector<std::uint32_t> parent;
  explicit UnionFind(std::size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0u); }
  std::uint32_t find(std::uint32_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void unite(std::uint32_t a, std::uint32_t b) { parent[find(a)] = find(b); }
};

// Successive shortest paths (Bellman-Ford queue) on a small transportation network.
class MinCostFlow {
 public:
  explicit MinCostFlow(std::size_t n) : m_out(n) {}
  void add(std::uint32_t a, std::uint32_t b, long long cap, double cost) {
    m_out[a].push_back(m_arcs.size());
    m_arcs.push_back({b, cap, cost});
    m_out[b].push_back(m_arcs.size());
    m_arcs.push_back({a, 0, -cost});
  }
  // Successive shortest paths, Dijkstra on reduced costs (every cost added must be >= 0).
  // Returns the flow sent.
  long long run(std::uint32_t s, std::uint32_t t) {
    long long total = 0;
    const std::size_t n = m_out.size();
    std::vector<double> potential(n, 0);
    while (true) {
      std::vector<double> dist(n, kInf);
      std::vector<std::size_t> pred(n, SIZE_MAX);
      using Item = std::pair<double, std::uint32_t>;
      std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
      dist[s] = 0;
      heap.emplace(0, s);
      while (!heap.empty()) {
        auto [d, u] = heap.top();
        heap.pop();
        if (d > dist[u]) continue;
        for (auto i : m_out[u]) {
          const auto& a = m_arcs[i];
          if (a.cap <= 0) continue;
          // Reduced costs are >= 0 up to rounding; clamp so Dijkstra stays sound.
          const double nd = d + std::max(0.0, a.cost + potential[u] - potential[a.to]);
          if (nd < dist[a.to]) dist[a.to] = nd, pred[a.to] = i, heap.emplace(nd, a.to);
        }
      }
      if (dist[t] == kInf) return total;
      for (std::size_t v = 0; v < n; ++v)
        if (dist[v] < kInf) potential[v] += dist[v];
      long long push = std::numeric_limits<long long>::max();
      for (auto v = t; v != s; v = m_arcs[pred[v] ^ 1].to) push = std::min(push, m_arcs[pred[v]].cap);
      for (auto v = t; v != s; v = m_arcs[pred[v] ^ 1].to) m_arcs[pred[v]].cap -= push, m_arcs[pred[v] ^ 1].cap += push;
      total += push;
    }
  }
  // Flow on the arc added as the i-th call of add().
  long long flow(std::size_t i) const { return m_arcs[2 * i + 1].cap; }

 private:
  struct FArc {
    std::uint32_t to;
    long long cap;
    double cost;
  };
  std::vector<std::vector<std::size_t>> m_out;
  std::vector<FArc> m_arcs;
};

using Pairs = std::vector<std::pair<std::size_t, std::size_t>>;

double pairs_cost(const Pairs& pairs, const std::vector<std::vector<double>>& d) {
  double total = 0;
  for (auto [a, b] : pairs) total += d[a][b];
  return total;
}

// Cheapest pairs first among `points`.
Pairs greedy_pairs(const std::vector<std::size_t>& points, const std::vector<std::vector<double>>& d) {
  std::vector<std::pair<double, std::pair<std::size_t, std::size_t>>> all;
  for (std::size_t x = 0; x < points.size(); ++x)
    for (std::size_t y = x + 1; y < points.size(); ++y) all.push_back({d[points[x]][points[y]], {points[x], points[y]}});
  std::sort(all.begin(), all.end());
  std::vector<char> used(d.size(), 0);
  Pairs pairs;
  for (const auto& [c, p] : all) {
    if (used[p.first] || used[p.second]) continue;
    used[p.first] = used[p.second] = 1;
    pairs.push_back(p);
  }
  return pairs;
}

// 2-opt exchanges between two pairs until none helps.
void two_opt(Pairs& pairs, const std::vector<std::vector<double>>& d) {
  for (int pass = 0; pass < 100; ++pass) {
    bool improved = false;
    for (std::size_t x = 0; x < pairs.size(); ++x) {
      for (std::size_t y = x + 1; y < pairs.size(); ++y) {
        auto [a, b] = pairs[x];
        auto [c, e] = pairs[y];
        const double now = d[a][b] + d[c][e];
        if (d[a][c] + d[b][e] < now - 1e-9) {
          pairs[x] = {a, c}, pairs[y] = {b, e}, improved = true;
        } else if (d[a][e] + d[b][c] < now - 1e-9) {
          pairs[x] = {a, e}, pairs[y] = {b, c}, improved = true;
        }
      }
    }
    if (!improved) break;
  }
}

// A perfect matching from the cycles of an assignment: alternate edges of even cycles (the
// cheaper half), odd cycles minus their best-left-out point; the left-out points paired greedily.
Pairs pairs_from_cycles(const std::vector<std::size_t>& to, const std::vector<std::vector<double>>& d) {
  const std::size_t n = to.size();
  std::vector<char> seen(n, 0);
  std::vector<std::size_t> left;
  Pairs pairs;
  for (std::size_t s = 0; s < n; ++s) {
    if (seen[s]) continue;
    std::vector<std::size_t> cyc;
    for (std::size_t x = s; !seen[x]; x = to[x]) seen[x] = 1, cyc.push_back(x);
    const std::size_t k = cyc.size();
    if (k == 1) {
      left.push_back(cyc[0]);
      continue;
    }
    // Even cycles: every other edge from position 0 or 1. Odd cycles: leave position st out and
    // pair the others from st + 1 on. Whichever costs least.
    const std::size_t m = k / 2, starts = k % 2 ? k : 2;
    auto base = [&](std::size_t st) { return k % 2 ? st + 1 : st; };
    double best = kInf;
    std::size_t best_s = 0;
    for (std::size_t st = 0; st < starts; ++st) {
      double c = 0;
      for (std::size_t t = 0; t < m; ++t) c += d[cyc[(base(st) + 2 * t) % k]][cyc[(base(st) + 2 * t + 1) % k]];
      if (c < best) best = c, best_s = st;
    }
    for (std::size_t t = 0; t < m; ++t) pairs.emplace_back(cyc[(base(best_s) + 2 * t) % k], cyc[(base(best_s) + 2 * t + 1) % k]);
    if (k % 2) left.push_back(cyc[best_s]);
  }
  auto rest = greedy_pairs(left, d);
  pairs.insert(pairs.end(), rest.begin(), rest.end());
  return pairs;
}

constexpr std::size_t kAssignmentLimit = 400;  // O(n^3): about 0.1 s at this size

// Greedy + 2-opt, and (up to kAssignmentLimit points) the assignment's cycles + 2-opt, whichever is
// cheaper; `bound` gets the better of two lower bounds: every point's nearest neighbour, halved,
// and half the minimum assignment (a perfect matching used both ways is an assignment).
Pairs heuristic_matching(std::size_t n, const std::vector<std::vector<double>>& d, double& bound) {
  bound = 0;
  for (std::size_t i = 0; i < n; ++i) bound += *std::min_element(d[i].begin(), d[i].end()) / 2;
  std::vector<std::size_t> all(n);
  std::iota(all.begin(), all.end(), std::size_t{0});
  Pairs pairs = greedy_pairs(all, d);
  two_opt(pairs, d);
  if (n <= kAssignmentLimit && bound < kInf) {
    bool finite = true;
    std::vector<std::vector<double>> c(n, std::vector<double>(n));
    double big = 1;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j)
        if (i != j) finite = finite && d[i][j] < kInf, big += d[i][j] < kInf ? d[i][j] : 0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) c[i][j] = i == j || d[i][j] == kInf ? big : d[i][j];
    const auto to = min_cost_assignment(n, [&](std::size_t i, std::size_t j) { return c[i][j]; });
    double cost = 0;
    for (std::size_t i = 0; i < n; ++i) cost += c[i][to[i]];
    if (finite) bound = std::max(bound, cost / 2);
    Pairs alt = pairs_from_cycles(to, d);
    two_opt(alt, d);
    if (pairs_cost(alt, d) < pairs_cost(pairs, d)) pairs = std::move(alt);
  }
  return pairs;
}

}  // namespace

std::optional<std::vector<std::pair<std::size_t, std::size_t>>> exact_matching(
    std::size_t n, const std::function<double(std::size_t, std::size_t)>& cost) {
  if (n % 2 != 0 || n > 24) throw std::invalid_argument("exact_matching: an even number of points, at most 24");
  if (n == 0) return std::vector<std::pair<std::size_t, std::size_t>>{};
  std::vector<std::vector<double>> c(n, std::vector<double>(n));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) c[i][j] = i == j ? kInf : cost(i, j);
  const std::size_t full = (std::size_t{1} << n) - 1;
  // best[mask]: cheapest perfect matching of the points in mask; choice: partner of its lowest point.
  std::vector<double> best(full + 1, kInf);
  std::vector<std::uint8_t> choice(full + 1, 0);
  best[0] = 0;
  for (std::size_t mask = 1; mask <= full; ++mask) {
    if (std::popcount(mask) % 2 != 0) continue;
    const auto i = static_cast<std::size_t>(std::countr_zero(mask));
    const std::size_t rest = mask & (mask - 1);
    for (std::size_t r = rest; r; r &= r - 1) {
      const auto j = static_cast<std::size_t>(std::countr_zero(r));
      const double v = c[i][j] + best[rest & ~(std::size_t{1} << j)];
      if (v < best[mask]) best[mask] = v, choice[mask] = static_cast<std::uint8_t>(j);
    }
  }
  if (best[full] == kInf) return std::nullopt;
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  for (std::size_t mask = full; mask;) {
    const auto i = static_cast<std::size_t>(std::countr_zero(mask));
    const std::size_t j = choice[mask];
    pairs.emplace_back(i, j);
    mask &= ~((std::size_t{1} << i) | (std::size_t{1} << j));
  }
  return pairs;
}

namespace postman_phases {

DeadheadGraph deadhead_graph(std::size_t node_count, const std::vector<PostmanEdge>& edges, Directions directions) {
  const bool either_way = directions == Directions::either_way;
  DeadheadGraph out(node_count);
  for (std::uint32_t e = 0; e < edges.size(); ++e) {
    const PostmanEdge& x = edges[e];
    if (!x.forward && !x.backward) continue;
    if (either_way || x.forward) out[x.from].push_back({x.to, e, true, x.cost});
    if (either_way || x.backward) out[x.to].push_back({x.from, e, false, x.cost});
  }
  return out;
}

Step step_of(const std::vector<PostmanEdge>& edges, const Traversal& t) {
  const PostmanEdge& e = edges[t.edge];
  return {t.forward ? e.from : e.to, t.forward ? e.to : e.from, t};
}

std::optional<std::vector<Step>> service_steps(const std::vector<PostmanEdge>& edges, const std::vector<std::uint32_t>& required,
                                               PostmanMode mode) {
  std::vector<std::uint32_t> sorted = required;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::vector<Step> steps;
  for (auto e : sorted) {
    const PostmanEdge& x = edges.at(e);
    if (!x.forward && !x.backward) return std::nullopt;
    if (mode == PostmanMode::undirected) {
      steps.push_back(step_of(edges, {e, true, true}));
    } else if (mode == PostmanMode::directed) {
      if (x.forward) steps.push_back(step_of(edges, {e, true, true}));
      if (x.backward) steps.push_back(step_of(edges, {e, false, true}));
    } else {
      steps.push_back(step_of(edges, {e, x.forward, true}));  // two-way edges start forward; oriented later
    }
  }
  return steps;
}

std::vector<std::uint32_t> odd_nodes(const std::vector<Step>& steps, std::size_t node_count) {
  std::vector<int> degree(node_count, 0);
  for (const auto& s : steps) ++degree[s.u], ++degree[s.v];
  std::vector<std::uint32_t> odd;
  for (std::uint32_t v = 0; v < node_count; ++v)
    if (degree[v] % 2) odd.push_back(v);
  return odd;
}

void orient_two_way_steps(std::vector<Step>& steps, std::size_t node_count, const std::vector<PostmanEdge>& edges) {
  const auto loose = deadhead_graph(node_count, edges, Directions::either_way);
  const std::vector<std::uint32_t> odd = odd_nodes(steps, node_count);
  std::vector<std::vector<double>> d(odd.size(), std::vector<double>(odd.size(), kInf));
  for (std::size_t i = 0; i < odd.size(); ++i) {
    const Tree t = dijkstra(loose, {odd[i]});
    for (std::size_t j = 0; j < odd.size(); ++j)
      if (i != j) d[i][j] = t.dist[odd[j]];
  }
  std::vector<std::size_t> all(odd.size());
  std::iota(all.begin(), all.end(), std::size_t{0});
  Pairs pairs = greedy_pairs(all, d);
  two_opt(pairs, d);
  std::vector<Step> plan = steps;
  for (auto [i, j] : pairs) {
    if (d[i][j] == kInf) continue;  // another component; the walk below stays within each
    for (const auto& t : path_to(dijkstra(loose, {odd[i]}), odd[j])) plan.push_back(step_of(edges, t));
  }
  std::vector<char> used(plan.size(), 0);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (used[i]) continue;
    euler_walk(plan, node_count, plan[i].u, Directions::either_way, used);
  }
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const PostmanEdge& x = edges[steps[i].t.edge];
    if (x.forward && x.backward) steps[i] = plan[i];
  }
}

std::vector<std::vector<std::uint32_t>> components(const std::vector<Step>& steps, std::size_t node_count) {
  UnionFind uf(node_count);
  std::vector<char> touched(node_count, 0);
  for (const auto& s : steps) uf.unite(s.u, s.v), touched[s.u] = touched[s.v] = 1;
  std::vector<std::vector<std::uint32_t>> comps;
  std::vector<std::uint32_t> index(node_count, kNone);
  for (std::uint32_t v = 0; v < node_count; ++v) {
    if (!touched[v]) continue;
    auto r = uf.find(v);
    if (index[r] == kNone) index[r] = static_cast<std::uint32_t>(comps.size()), comps.emplace_back();
    comps[index[r]].push_back(v);
  }
  return comps;
}

bool join_components(const std::vector<std::vector<std::uint32_t>>& comps, const DeadheadGraph& graph,
                     const std::vector<PostmanEdge>& edges, std::vector<Step>& steps) {
  if (comps.size() <= 1) return true;
  const std::size_t node_count = graph.size(), k = comps.size();
  std::vector<std::uint32_t> comp_of(node_count, kNone);
  for (std::uint32_t c = 0; c < k; ++c)
    for (auto v : comps[c]) comp_of[v] = c;
  // dist[a][b]: from component a to its nearest vertex of b, and that vertex.
  std::vector<std::vector<double>> dist(k, std::vector<double>(k, kInf));
  std::vector<std::vector<std::uint32_t>> via(k, std::vector<std::uint32_t>(k, kNone));
  for (std::uint32_t a = 0; a < k; ++a) {
    Tree t = dijkstra(graph, comps[a]);
    for (std::uint32_t v = 0; v < node_count; ++v) {
      const auto b = comp_of[v];
      if (b == kNone || b == a) continue;
      if (t.dist[v] < dist[a][b]) dist[a][b] = t.dist[v], via[a][b] = v;
    }
  }
  // Prim; a link goes in the cheaper direction.
  std::vector<char> in_tree(k, 0);
  std::vector<double> key(k, kInf);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> link(k, {kNone, kNone});  // (from comp, to comp)
  key[0] = 0;
  for (std::size_t added = 0; added < k; ++added) {
    std::uint32_t best = kNone;
    for (std::uint32_t c = 0; c < k; ++c)
      if (!in_tree[c] && (best == kNone || key[c] < key[best])) best = c;
    if (key[best] == kInf) return false;
    in_tree[best] = 1;
    if (link[best].first != kNone) {
      auto [a, b] = link[best];
      Tree t = dijkstra(graph, comps[a]);
      for (const auto& tr : path_to(t, via[a][b])) steps.push_back(step_of(edges, tr));
    }
    for (std::uint32_t c = 0; c < k; ++c) {
      if (in_tree[c]) continue;
      const double there = dist[best][c], back = dist[c][best];
      if (std::min(there, back) < key[c]) {
        key[c] = std::min(there, back);
        link[c] = there <= back ? std::pair{best, c} : std::pair{c, best};
      }
    }
  }
  return true;
}

std::optional<Matching> pair_odd_nodes(std::vector<Step>& steps, std::size_t node_count, const DeadheadGraph& graph,
                                       const std::vector<PostmanEdge>& edges, std::size_t exact_limit) {
  const std::vector<std::uint32_t> odd = odd_nodes(steps, node_count);
  const std::size_t n = odd.size();
  std::vector<std::vector<double>> d(n, std::vector<double>(n, kInf));
  for (std::size_t i = 0; i < n; ++i) {
    Tree t = dijkstra(graph, {odd[i]});
    for (std::size_t j = 0; j < n; ++j) d[i][j] = i == j ? kInf : t.dist[odd[j]];
  }
  Matching m;
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  if (n <= exact_limit && n <= 24) {
    auto exact = exact_matching(n, [&](std::size_t i, std::size_t j) { return d[i][j]; });
    if (!exact) return std::nullopt;
    pairs = *exact;
    m.method = n ? "exact_matching" : "none";
  } else {
    double bound = 0;
    pairs = heuristic_matching(n, d, bound);
    m.method = "heuristic_matching";
    m.lower_bound = bound;
  }
  for (auto [i, j] : pairs) {
    if (d[i][j] == kInf) return std::nullopt;
    m.cost += d[i][j];
    Tree t = dijkstra(graph, {odd[i]});
    for (const auto& tr : path_to(t, odd[j])) steps.push_back(step_of(edges, tr));
  }
  return m;
}

std::optional<double> balance_by_flow(std::vector<Step>& steps, std::size_t node_count, const DeadheadGraph& graph) {
  std::vector<long long> b(node_count, 0);  // in - out: > 0 must leave again
  for (const auto& s : steps) --b[s.u], ++b[s.v];
  std::vector<std::uint32_t> sources, sinks;
  for (std::uint32_t v = 0; v < node_count; ++v) {
    if (b[v] > 0) sources.push_back(v);
    if (b[v] < 0) sinks.push_back(v);
  }
  double cost = 0;
  if (sources.empty()) return cost;
  // Min-cost flow on the street network itself, from the nodes that must leave again to the
  // nodes that must be entered again: each unit of flow on an arc is one more traversal.
  MinCostFlow flow(node_count + 2);
  const auto src = static_cast<std::uint32_t>(node_count), dst = static_cast<std::uint32_t>(node_count + 1);
  long long need = 0;
  for (auto v : sources) need += b[v];
  std::vector<std::pair<std::uint32_t, Arc>> arcs;  // (tail, arc), in the order added
  for (std::uint32_t u = 0; u < node_count; ++u)
    for (const Arc& a : graph[u]) flow.add(u, a.to, need, a.cost), arcs.emplace_back(u, a);
  for (auto v : sources) flow.add(src, v, b[v], 0);
  for (auto v : sinks) flow.add(v, dst, -b[v], 0);
  if (flow.run(src, dst) != need) return std::nullopt;
  for (std::size_t i = 0; i < arcs.size(); ++i) {
    const long long f = flow.flow(i);
    const Arc& a = arcs[i].second;
    for (long long c = 0; c < f; ++c) steps.push_back({arcs[i].first, a.to, {a.edge, a.forward, false}});
    cost += f * a.cost;
  }
  return cost;
}

std::uint32_t start_node(const std::vector<Step>& steps, const std::function<double(std::uint32_t)>& start_rank) {
  std::uint32_t start = kNone;
  double best_rank = kInf;
  for (const auto& s : steps) {
    for (auto v : {s.u, s.v}) {
      const double rank = start_rank(v);
      if (start == kNone || rank < best_rank) start = v, best_rank = rank;
    }
  }
  return start;
}

std::vector<Traversal> euler_walk(std::vector<Step>& steps, std::size_t node_count, std::uint32_t start, Directions directions,
                                  std::vector<char>& used) {
  const bool either_way = directions == Directions::either_way;
  std::vector<std::vector<std::uint32_t>> adj(node_count);
  for (std::uint32_t i = 0; i < steps.size(); ++i) {
    if (used[i]) continue;
    adj[steps[i].u].push_back(i);
    if (either_way && steps[i].v != steps[i].u) adj[steps[i].v].push_back(i);
  }
  std::vector<std::size_t> next(node_count, 0);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> stack{{start, kNone}};  // (node, step that reached it)
  std::vector<Traversal> walk;
  while (!stack.empty()) {
    const std::uint32_t v = stack.back().first;
    auto& k = next[v];
    while (k < adj[v].size() && used[adj[v][k]]) ++k;
    if (k < adj[v].size()) {
      const std::uint32_t i = adj[v][k];
      used[i] = 1;
      stack.push_back({steps[i].u == v ? steps[i].v : steps[i].u, i});
      if (steps[i].u != v) {
        std::swap(steps[i].u, steps[i].v);
        steps[i].t.forward = !steps[i].t.forward;
      }
    } else {
      if (stack.back().second != kNone) walk.push_back(steps[stack.back().second].t);
      stack.pop_back();
    }
  }
  std::reverse(walk.begin(), walk.end());
  return walk;
}

void walk_circuit(PostmanResult& r, std::vector<Step>& steps, std::size_t node_count, std::uint32_t start, PostmanMode mode,
                  const std::vector<PostmanEdge>& edges) {
  std::vector<char> used(steps.size(), 0);
  const auto directions = mode == PostmanMode::undirected ? Directions::either_way : Directions::as_given;
  const std::vector<Traversal> walk = euler_walk(steps, node_count, start, directions, used);
  r.start = start;
  std::vector<char> need_fwd(edges.size(), 0), need_bwd(edges.size(), 0);
  for (const auto& s : steps)
    if (s.t.service) (mode == PostmanMode::directed && !s.t.forward ? need_bwd : need_fwd)[s.t.edge] = 1;
  for (auto t : walk) {
    t.service = false;
    auto& need = mode == PostmanMode::directed && !t.forward ? need_bwd : need_fwd;
    if (need[t.edge]) need[t.edge] = 0, t.service = true;
    const double c = edges[t.edge].cost;
    r.cost += c;
    (t.service ? r.service_cost : r.deadhead_cost) += c;
    r.circuit.push_back(t);
  }
}

}  // namespace postman_phases

PostmanOutcome postman(std::size_t node_count, const std::vector<PostmanEdge>& edges, const std::vector<std::uint32_t>& required,
                       PostmanMode mode, const std::function<double(std::uint32_t)>& start_rank, std::size_t exact_matching_limit) {
  using namespace postman_phases;
  PostmanOutcome out;
  auto failed = [&out](PostmanFailure why) {
    out.failure = why;
    return out;
  };
  if (required.empty()) return out;
  const bool undirected = mode == PostmanMode::undirected;
  const auto graph = deadhead_graph(node_count, edges, undirected ? Directions::either_way : Directions::as_given);

  auto steps = service_steps(edges, required, mode);
  if (!steps) return failed(PostmanFailure::unusable_required_edge);
  if (mode == PostmanMode::mixed) orient_two_way_steps(*steps, node_count, edges);

  PostmanResult r;
  const auto comps = components(*steps, node_count);
  r.components = comps.size();
  if (!join_components(comps, graph, edges, *steps)) return failed(PostmanFailure::unreachable);

  if (undirected) {
    const auto m = pair_odd_nodes(*steps, node_count, graph, edges, exact_matching_limit);
    if (!m) return failed(PostmanFailure::unreachable);
    r.method = m->method;
    r.matching_cost = m->cost;
    r.matching_lower_bound = m->lower_bound;
  } else {
    const auto cost = balance_by_flow(*steps, node_count, graph);
    if (!cost) return failed(PostmanFailure::unreachable);
    r.matching_cost = *cost;
    r.method = "min_cost_flow";
  }

  walk_circuit(r, *steps, node_count, start_node(*steps, start_rank), mode, edges);
  out.result = std::move(r);
  return out;
}

}  // namespace wangge::route
