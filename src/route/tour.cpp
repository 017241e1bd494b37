#include "route/tour.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

#include "route/assignment.hpp"

namespace wangge::route {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Improvements smaller than this (relative to the tour) are noise, not progress.
double epsilon_for(const CostMatrix& c) {
  double m = 0;
  for (std::size_t i = 0; i < c.size(); ++i)
    for (std::size_t j = 0; j < c.size(); ++j)
      if (i != j) m = std::max(m, std::abs(c(i, j)));
  return std::max(1e-9, m * 1e-12);
}

bool all_integers(const CostMatrix& c) {
  for (std::size_t i = 0; i < c.size(); ++i)
    for (std::size_t j = 0; j < c.size(); ++j)
      if (i != j && c(i, j) != std::floor(c(i, j))) return false;
  return true;
}

// The local search state: the tour as an array with positions, a journal of writes so that a kick
// that did not pay can be undone in the time it took, and a queue of nodes whose moves may improve.
class LocalSearch {
 public:
  LocalSearch(const CostMatrix& c, std::size_t k, const Tour& start)
      : m_c(c), m_n(c.size()), m_sym(c.symmetric()), m_eps(epsilon_for(c)), m_t(start), m_pos(m_n), m_active(m_n, 0) {
    for (std::size_t i = 0; i < m_n; ++i) m_pos[m_t[i]] = static_cast<std::uint32_t>(i);
    m_k = std::min(k, m_n - 1);
    m_nb.resize(m_n * m_k);
    std::vector<std::uint32_t> others(m_n);
    for (std::uint32_t i = 0; i < m_n; ++i) {
      std::iota(others.begin(), others.end(), 0u);
      std::swap(others[i], others.back());
      auto key = [&](std::uint32_t j) { return std::min(c(i, j), c(j, i)); };
      std::partial_sort(others.begin(), others.begin() + static_cast<std::ptrdiff_t>(m_k), others.end() - 1,
                        [&](std::uint32_t a, std::uint32_t b) { return key(a) < key(b); });
      std::copy_n(others.begin(), m_k, m_nb.begin() + static_cast<std::ptrdiff_t>(i * m_k));
    }
    m_len = tour_length(c, m_t);
    for (std::uint32_t v = 0; v < m_n; ++v) push(v);
  }

  double length() const { return m_len; }
  const Tour& tour() const { return m_t; }

  void optimise() {
    while (!m_queue.empty()) {
      const std::uint32_t v = m_queue.back();
      m_queue.pop_back();
      m_active[v] = 0;
      if ((m_sym ? two_opt(v) : two_opt_directed(v)) || or_opt(v)) push(v);
    }
  }

  // Swaps two adjacent segments of random lengths at a random place (a local double bridge: it
  // keeps the orientation of everything) and re-optimises around it. Keeps the result when it is
  // no longer than before, else undoes it.
  bool kick(std::mt19937_64& rng) {
    const std::size_t max_seg = std::max<std::size_t>(1, std::min<std::size_t>(50, (m_n - 2) / 2));
    std::uniform_int_distribution<std::size_t> at(0, m_n - 1), seg(1, max_seg);
    const std::size_t i = at(rng), l1 = seg(rng), l2 = seg(rng);
    const std::uint32_t a = m_t[i], b1 = node(i + 1), bl = node(i + l1), c1 = node(i + l1 + 1), cl = node(i + l1 + l2),
                        d = node(i + l1 + l2 + 1);
    const double before = m_len;
    m_journal.clear();
    m_logging = true;
    m_len += m_c(a, c1) + m_c(cl, b1) + m_c(bl, d) - m_c(a, b1) - m_c(bl, c1) - m_c(cl, d);
    rotate_left(i + 1, l1 + l2, l1);
    for (auto v : {a, b1, bl, c1, cl, d}) push(v);
    optimise();
    m_logging = false;
    if (m_len <= before + m_eps) return m_len < before - m_eps;
    for (auto it = m_journal.rbegin(); it != m_journal.rend(); ++it) {
      m_t[it->first] = it->second;
      m_pos[it->second] = it->first;
    }
    m_len = before;
    return false;
  }

 private:
  std::uint32_t node(std::size_t p) const { return m_t[p % m_n]; }
  std::uint32_t succ(std::uint32_t v) const { return node(m_pos[v] + 1); }
  std::uint32_t pred(std::uint32_t v) const { return node(m_pos[v] + m_n - 1); }
  // Positions from p forward to q, both included.
  std::size_t span(std::size_t p, std::size_t q) const { return (q + m_n - p) % m_n + 1; }
  void push(std::uint32_t v) {
    if (!m_active[v]) m_active[v] = 1, m_queue.push_back(v);
  }
  void put(std::size_t p, std::uint32_t v) {
    p %= m_n;
    m_sums_stale = true;
    if (m_logging) m_journal.emplace_back(static_cast<std::uint32_t>(p), m_t[p]);
    m_t[p] = v;
    m_pos[v] = static_cast<std::uint32_t>(p);
  }
  // Reverses the `len` positions starting at p (cyclically).
  void reverse(std::size_t p, std::size_t len) {
    for (std::size_t k = 0; k < len / 2; ++k) {
      const std::uint32_t x = node(p + k), y = node(p + len - 1 - k);
      put(p + k, y);
      put(p + len - 1 - k, x);
    }
  }
  // Rotates the `len` positions starting at p left by `by` (cyclically).
  void rotate_left(std::size_t p, std::size_t len, std::size_t by) {
    m_buf.resize(len);
    for (std::size_t k = 0; k < len; ++k) m_buf[k] = node(p + k);
    std::rotate(m_buf.begin(), m_buf.begin() + static_cast<std::ptrdiff_t>(by), m_buf.end());
    for (std::size_t k = 0; k < len; ++k) put(p + k, m_buf[k]);
  }

  // Symmetric 2-opt: replaces edges (a, succ a), (c, succ c) by (a, c), (succ a, succ c), or the
  // same with predecessors, for c among a's neighbours; reverses the shorter side.
  bool two_opt(std::uint32_t a) {
    for (int dir = 0; dir < 2; ++dir) {
      const std::uint32_t b = dir == 0 ? succ(a) : pred(a);
      const double ab = m_c(a, b);
      for (std::size_t k = 0; k < m_k; ++k) {
        const std::uint32_t c = m_nb[a * m_k + k];
        const double g1 = ab - m_c(a, c);
        if (g1 <= m_eps) break;
        const std::uint32_t d = dir == 0 ? succ(c) : pred(c);
        if (c == b || d == a) continue;
        const double delta = m_c(b, d) - m_c(c, d) - g1;
        if (delta >= -m_eps) continue;
        // dir 0: a b .. c d -> a c .. b d (reverse b..c); dir 1: d c .. b a -> d b .. c a (reverse c..b).
        const std::size_t p = dir == 0 ? m_pos[b] : m_pos[c], q = dir == 0 ? m_pos[c] : m_pos[b];
        const std::size_t len = span(p, q);
        if (len <= m_n - len)
          reverse(p, len);
        else
          reverse(q + 1, m_n - len);  // the complement: the same tour, read backwards
        m_len += delta;
        for (auto v : {a, b, c, d}) push(v);
        return true;
      }
    }
    return false;
  }

  // 2-opt on asymmetric costs: reversing a stretch changes the cost of every arc inside it, which
  // prefix sums of the forward and backward arc costs along the array give in O(1) (rebuilt in
  // O(n) after the tour changed). dir 0: a b .. c d -> a c .. b d; dir 1: d c .. b a -> d b .. c a.
  bool two_opt_directed(std::uint32_t a) {
    for (int dir = 0; dir < 2; ++dir) {
      const std::uint32_t b = dir == 0 ? succ(a) : pred(a);
      const double ab = dir == 0 ? m_c(a, b) : m_c(b, a);
      for (std::size_t k = 0; k < m_k; ++k) {
        const std::uint32_t c = m_nb[a * m_k + k];
        const double ac = dir == 0 ? m_c(a, c) : m_c(c, a);
        if (ab - ac <= m_eps) break;
        const std::uint32_t d = dir == 0 ? succ(c) : pred(c);
        if (c == b || d == a) continue;
        const double removed = ab + (dir == 0 ? m_c(c, d) : m_c(d, c));
        const double added = ac + (dir == 0 ? m_c(b, d) : m_c(d, b));
        const std::size_t p = dir == 0 ? m_pos[b] : m_pos[c], q = dir == 0 ? m_pos[c] : m_pos[b];
        const double delta = added - removed + reversal_change(p, span(p, q));
        if (delta >= -m_eps) continue;
        reverse(p, span(p, q));
        m_len += delta;
        for (auto v : {a, b, c, d}) push(v);
        return true;
      }
    }
    return false;
  }

  // Cost change of the arcs inside the `len` positions from p when they are reversed.
  double reversal_change(std::size_t p, std::size_t len) {
    if (m_sums_stale) {
      m_fwd.assign(m_n, 0), m_bwd.assign(m_n, 0);
      for (std::size_t i = 1; i < m_n; ++i) {
        m_fwd[i] = m_fwd[i - 1] + m_c(m_t[i - 1], m_t[i]);
        m_bwd[i] = m_bwd[i - 1] + m_c(m_t[i], m_t[i - 1]);
      }
      m_sums_stale = false;
    }
    const std::size_t q = p + len - 1;  // may pass the end of the array
    if (q < m_n) return (m_bwd[q] - m_bwd[p]) - (m_fwd[q] - m_fwd[p]);
    const std::size_t q2 = q - m_n;  // p .. n-1, the arc from n-1 to 0, then 0 .. q2
    const std::uint32_t last = m_t[m_n - 1], first = m_t[0];
    return (m_bwd[m_n - 1] - m_bwd[p]) - (m_fwd[m_n - 1] - m_fwd[p]) + m_c(first, last) - m_c(last, first) + m_bwd[q2] - m_fwd[q2];
  }

  // Or-opt: moves a segment of 1 to 3 nodes that starts or ends at v between two neighbouring nodes
  // elsewhere, keeping its orientation (and also reversed when the costs are symmetric).
  bool or_opt(std::uint32_t v) {
    for (std::size_t len = 1; len <= 3 && len + 2 < m_n; ++len) {
      for (int end = 0; end < (len == 1 ? 1 : 2); ++end) {
        const std::size_t p1 = end == 0 ? m_pos[v] : (m_pos[v] + m_n - (len - 1)) % m_n;
        const std::uint32_t s1 = node(p1), s2 = node(p1 + len - 1);
        const std::uint32_t p = pred(s1), nx = succ(s2);
        const double gain = m_c(p, s1) + m_c(s2, nx) - m_c(p, nx);
        if (gain <= m_eps) continue;
        for (int side = 0; side < 2; ++side) {
          const std::uint32_t s = side == 0 ? s1 : s2;
          for (std::size_t k = 0; k < m_k; ++k) {
            const std::uint32_t x = m_nb[s * m_k + k];
            if (std::min(m_c(x, s), m_c(s, x)) >= gain) break;
            if ((m_pos[x] + m_n - p1) % m_n < len) continue;  // inside the segment
            for (int gap = 0; gap < 2; ++gap) {
              const std::uint32_t g1 = gap == 0 ? x : pred(x), g2 = gap == 0 ? succ(x) : x;
              if ((m_pos[g1] + m_n - p1) % m_n < len || (m_pos[g2] + m_n - p1) % m_n < len) continue;
              const double base = m_c(g1, g2);
              const double keep = m_c(g1, s1) + m_c(s2, g2) - base;
              const double flip = m_sym ? m_c(g1, s2) + m_c(s1, g2) - base : kInf;
              const double add = std::min(keep, flip);
              if (add - gain >= -m_eps) continue;
              move_segment(p1, len, g1);
              if (flip < keep) reverse(m_pos[s1], len);
              m_len += add - gain;
              for (auto w : {p, nx, s1, s2, g1, g2}) push(w);
              return true;
            }
          }
        }
      }
    }
    return false;
  }

  // Moves the `len` positions starting at p1 to just after node g1 (outside them), by rotating the
  // shorter of the two stretches between the segment and its new place.
  void move_segment(std::size_t p1, std::size_t len, std::uint32_t g1) {
    const std::size_t forward = span(p1, m_pos[g1]);  // segment .. g1: rotate left by len
    const std::size_t after = (m_pos[g1] + 1) % m_n;
    const std::size_t backward = span(after, p1 + len - 1);  // g1's successor .. segment end
    if (forward <= backward)
      rotate_left(p1, forward, len);
    else
      rotate_left(after, backward, backward - len);
  }

  const CostMatrix& m_c;
  std::size_t m_n;
  bool m_sym;
  double m_eps;
  Tour m_t;
  std::vector<std::uint32_t> m_pos;
  std::size_t m_k = 0;
  std::vector<std::uint32_t> m_nb;
  std::vector<char> m_active;
  std::vector<std::uint32_t> m_queue;
  std::vector<std::uint32_t> m_buf;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> m_journal;
  bool m_logging = false;
  double m_len = 0;
  std::vector<double> m_fwd, m_bwd;  // prefix sums of arc costs along the array, forward and backward
  bool m_sums_stale = true;
};

Tour nearest_neighbour(const CostMatrix& c) {
  const std::size_t n = c.size();
  Tour t{0};
  std::vector<char> used(n, 0);
  used[0] = 1;
  for (std::size_t step = 1; step < n; ++step) {
    const std::uint32_t u = t.back();
    std::uint32_t best = 0;
    double bc = kInf;
    for (std::uint32_t v = 0; v < n; ++v)
      if (!used[v] && c(u, v) < bc) bc = c(u, v), best = v;
    if (bc == kInf)  // only infinite costs left: take any
      for (std::uint32_t v = 0; v < n; ++v)
        if (!used[v]) {
          best = v;
          break;
        }
    used[best] = 1;
    t.push_back(best);
  }
  return t;
}

// Held-Karp 1-tree bound with subgradient ascent on symmetric weights w (n >= 3): a minimum spanning
// tree on nodes 1..n-1 plus the two cheapest edges at node 0, with node penalties pi.
double one_tree_bound(const CostMatrix& w, double upper, double budget_s, std::size_t iterations) {
  const std::size_t n = w.size();
  const auto t0 = Clock::now();
  std::vector<double> pi(n, 0), key(n);
  std::vector<std::uint32_t> parent(n);
  std::vector<int> degree(n);
  std::vector<char> in(n);
  std::vector<int> last_dir(n, 0);
  double best = -kInf, lambda = 2;
  // O(n^2) per iteration: keep the whole ascent near `budget_s`, and halve the step often enough
  // to converge within the iterations that fit.
  std::size_t max_iter = iterations ? iterations : 3000;
  std::size_t period = std::clamp<std::size_t>(max_iter / 15, 5, std::max<std::size_t>(10, n / 2));
  std::size_t since_best = 0;
  for (std::size_t it = 0; it < max_iter && lambda > 1e-7; ++it) {
    std::fill(degree.begin(), degree.end(), 0);
    std::fill(in.begin(), in.end(), 0);
    std::fill(key.begin(), key.end(), kInf);
    double total = 0;
    key[1] = 0;
    parent[1] = 1;
    for (std::size_t step = 1; step < n; ++step) {
      std::size_t u = 0;
      double bk = kInf;
      for (std::size_t v = 1; v < n; ++v)
        if (!in[v] && key[v] < bk) bk = key[v], u = v;
      in[u] = 1;
      total += bk;
      if (parent[u] != u) ++degree[u], ++degree[parent[u]];
      for (std::size_t v = 1; v < n; ++v) {
        if (in[v]) continue;
        const double c = w(u, v) + pi[u] + pi[v];
        if (c < key[v]) key[v] = c, parent[v] = static_cast<std::uint32_t>(u);
      }
    }
    // The two cheapest edges at node 0.
    std::size_t e1 = 0, e2 = 0;
    double c1 = kInf, c2 = kInf;
    for (std::size_t v = 1; v < n; ++v) {
      const double c = w(0, v) + pi[0] + pi[v];
      if (c < c1)
        c2 = c1, e2 = e1, c1 = c, e1 = v;
      else if (c < c2)
        c2 = c, e2 = v;
    }
    total += c1 + c2;
    degree[0] = 2, ++degree[e1], ++degree[e2];
    double bound = total;
    for (double p : pi) bound -= 2 * p;
    if (bound > best + 1e-12 * std::abs(bound))
      best = bound, since_best = 0;
    else if (++since_best >= period)
      lambda /= 2, since_best = 0;
    double norm = 0;
    for (int d : degree) norm += static_cast<double>((d - 2) * (d - 2));
    if (norm == 0) break;  // the 1-tree is a tour: the bound is the optimum
    if (upper <= bound) break;
    // Volgenant-Jonker: part of the previous direction damps the zig-zag of plain subgradients.
    const double step = lambda * (upper - bound) / norm;
    for (std::size_t v = 0; v < n; ++v) {
      pi[v] += step * (0.7 * (degree[v] - 2) + 0.3 * last_dir[v]);
      last_dir[v] = degree[v] - 2;
    }
    if (it == 0 && !iterations) {  // now the cost of one iteration is known: plan the step schedule for the budget
      const double per = std::max(seconds_since(t0), 1e-7);
      max_iter = std::clamp<std::size_t>(static_cast<std::size_t>(budget_s / per), 30, 3000);
      period = std::clamp<std::size_t>(max_iter / 15, 3, std::max<std::size_t>(10, n / 2));
    }
    if (!iterations && (it & 15) == 15 && seconds_since(t0) > 2 * budget_s) break;
  }
  return best;
}

// The 1-tree bound of an asymmetric matrix through its symmetric twin (Jonker and Volgenant): node
// i becomes an in-copy i and an out-copy n + i joined by an edge of cost -M that every good tour
// takes; out-copy i to in-copy j costs c(i, j); in-in and out-out pairs cost far more than any
// tour. A tour of the twin is a directed tour of the original plus n(-M).
double directed_one_tree_bound(const CostMatrix& c, double upper, double budget_s, std::size_t iterations) {
  const std::size_t n = c.size();
  double top = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j)
      if (i != j) top = std::max(top, std::abs(c(i, j)));
  const double tie = 100 * (top + 1), apart = 1e4 * (top + 1);
  CostMatrix w(2 * n, apart);
  for (std::size_t i = 0; i < n; ++i) {
    w.at(i, n + i) = w.at(n + i, i) = -tie;
    for (std::size_t j = 0; j < n; ++j)
      if (i != j) w.at(n + i, j) = w.at(j, n + i) = c(i, j);
  }
  const double shift = static_cast<double>(n) * tie;
  return one_tree_bound(w, upper - shift, budget_s, iterations) + shift;
}

// Minimum-cost assignment (every node one successor, no self loops): Hungarian algorithm, O(n^3).
double assignment_bound(const CostMatrix& c) {
  const std::size_t n = c.size();
  double big = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j)
      if (i != j) big = std::max(big, std::abs(c(i, j)));
  big = big * static_cast<double>(n) + 1;
  auto cost = [&](std::size_t i, std::size_t j) { return i == j ? big : c(i, j); };
  const auto to = min_cost_assignment(n, cost);
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) total += cost(i, to[i]);
  return total;
}

}  // namespace

bool CostMatrix::symmetric() const {
  for (std::size_t i = 0; i < m_n; ++i)
    for (std::size_t j = i + 1; j < m_n; ++j)
      if ((*this)(i, j) != (*this)(j, i)) return false;
  return true;
}

double tour_length(const CostMatrix& c, const Tour& t) {
  double s = 0;
  for (std::size_t i = 0; i < t.size(); ++i) s += c(t[i], t[(i + 1) % t.size()]);
  return t.size() < 2 ? 0 : s;
}

Tour held_karp_exact(const CostMatrix& c) {
  const std::size_t n = c.size();
  if (n == 0 || n > 20) throw std::invalid_argument("held_karp_exact: 1 to 20 nodes");
  if (n <= 3) {
    Tour t(n);
    std::iota(t.begin(), t.end(), 0u);
    if (n == 3 && c(0, 2) + c(2, 1) + c(1, 0) < c(0, 1) + c(1, 2) + c(2, 0)) std::swap(t[1], t[2]);
    return t;
  }
  // best[mask][j]: cheapest path from 0 through the nodes of mask (bit k: node k + 1), ending at j + 1.
  const std::size_t m = n - 1, full = (std::size_t{1} << m) - 1;
  std::vector<double> best((full + 1) * m, kInf);
  std::vector<std::uint8_t> from((full + 1) * m, 0);
  for (std::size_t j = 0; j < m; ++j) best[(std::size_t{1} << j) * m + j] = c(0, j + 1);
  for (std::size_t mask = 1; mask <= full; ++mask) {
    for (std::size_t j = 0; j < m; ++j) {
      if (!(mask & (std::size_t{1} << j))) continue;
      const double here = best[mask * m + j];
      if (here == kInf) continue;
      for (std::size_t k = 0; k < m; ++k) {
        if (mask & (std::size_t{1} << k)) continue;
        const std::size_t next = mask | (std::size_t{1} << k);
        const double v = here + c(j + 1, k + 1);
        if (v < best[next * m + k]) best[next * m + k] = v, from[next * m + k] = static_cast<std::uint8_t>(j);
      }
    }
  }
  std::size_t last = 0;
  double bv = kInf;
  for (std::size_t j = 0; j < m; ++j)
    if (best[full * m + j] + c(j + 1, 0) < bv) bv = best[full * m + j] + c(j + 1, 0), last = j;
  Tour rev;
  std::size_t mask = full, j = last;
  while (true) {
    rev.push_back(static_cast<std::uint32_t>(j + 1));
    const std::size_t prev = mask & (mask - 1) ? from[mask * m + j] : m;
    mask &= ~(std::size_t{1} << j);
    if (!mask) break;
    j = prev;
  }
  Tour t{0};
  t.insert(t.end(), rev.rbegin(), rev.rend());
  return t;
}

Tour local_search_tour(const CostMatrix& c, const TourOptions& options, std::size_t* kicks) {
  const std::size_t n = c.size();
  if (kicks) *kicks = 0;
  if (n <= 3) return held_karp_exact(c);
  const auto t0 = Clock::now();
  const double limit = options.time_limit_s > 0 ? options.time_limit_s : std::clamp(0.0013 * static_cast<double>(n), 0.02, 1.3);
  const std::size_t max_stall = options.max_stall ? options.max_stall : 20000 + 200 * n;
  std::mt19937_64 rng(options.seed);
  LocalSearch ls(c, options.neighbours, nearest_neighbour(c));
  ls.optimise();
  std::size_t tried = 0, stall = 0;
  if (n >= 8) {
    while (stall < max_stall) {
      ++tried;
      if (ls.kick(rng))
        stall = 0;
      else
        ++stall;
      if ((tried & 63) == 0 && seconds_since(t0) > limit) break;
    }
  }
  if (kicks) *kicks = tried;
  Tour t = ls.tour();
  std::rotate(t.begin(), std::find(t.begin(), t.end(), 0u), t.end());
  return t;
}

double tour_lower_bound(const CostMatrix& c, double upper, std::size_t iterations) {
  const std::size_t n = c.size();
  if (n < 3) return upper;  // every tour is the same
  const double budget = std::clamp(0.00012 * static_cast<double>(n), 0.005, 0.12);
  double lb;
  if (c.symmetric()) {
    lb = one_tree_bound(c, upper, budget, iterations);
  } else {
    // The twin's 1-tree bound is the strong one; above its size limit, the 1-tree bound on the
    // cheaper direction of every pair stands in.
    if (n <= 1000) {
      lb = directed_one_tree_bound(c, upper, budget, iterations);
    } else {
      CostMatrix w(n);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) w.at(i, j) = std::min(c(i, j), c(j, i));
      lb = one_tree_bound(w, upper, budget, iterations);
    }
    if (n <= 600) lb = std::max(lb, assignment_bound(c));
  }
  // Floating-point noise must not put the bound above an optimal tour; integer costs give an
  // integer optimum, so the bound rounds up.
  lb -= 1e-9 * std::abs(lb);
  if (all_integers(c)) lb = std::ceil(lb - 1e-6);
  return std::min(lb, upper);
}

TourResult solve_tour(const CostMatrix& c, const TourOptions& options) {
  const auto t0 = Clock::now();
  TourResult r;
  if (c.size() == 0) return r;
  if (c.size() <= kExactMaxNodes) {
    r.order = held_karp_exact(c);
    r.exact = true;
  } else {
    r.order = local_search_tour(c, options, &r.kicks);
  }
  r.length = tour_length(c, r.order);
  r.lower_bound = r.exact ? r.length : tour_lower_bound(c, r.length);
  r.seconds = seconds_since(t0);
  return r;
}

}  // namespace wangge::route
