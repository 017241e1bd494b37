#include "route/patrol.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <thread>

#include "route/tour.hpp"

namespace wangge::route {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kInf = std::numeric_limits<double>::infinity();
// Stands in for a missing path between two checkpoints (one-way streets can make i -> j impossible
// while both are reachable from the start and reach the end): a tour that needs it is not usable.
constexpr double kNoPath = 1e7;
// `vary` scales each travel time by a factor in [1, 1 + kVary): at most that much longer in theory,
// a few per cent in practice (the gap in the answer says how much).
constexpr double kVary = 0.3;
constexpr std::size_t kExactMaxStops = 15;  // Held-Karp: 2^16 x 16 states with a distinct end

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Times through a route of checkpoints: arrival, service start (after waiting for the window) and
// departure per stop, the arrival at the end, and how much each stop's service start may slip
// before a later window or the shift cap is broken.
struct Timing {
  std::vector<double> arrival, start, departure, slack;
  double end = 0;
  bool feasible = true;
};

class Planner {
 public:
  Planner(const PatrolRequest& req, const std::vector<std::vector<std::optional<Cost>>>& m, std::size_t end_point, std::size_t first_cp)
      : m_req(req), m_m(m), m_end(end_point), m_first(first_cp) {}

  std::size_t point(std::size_t cp) const { return m_first + cp; }
  double travel(std::size_t from_point, std::size_t to_point) const {
    const auto& c = m_m[from_point][to_point];
    return c ? c->duration_s : kNoPath;
  }
  double metres(std::size_t from_point, std::size_t to_point) const {
    const auto& c = m_m[from_point][to_point];
    return c ? c->distance_m : 0;
  }
  // Points along a route: the start (0), the checkpoints, the end.
  std::size_t at(const std::vector<std::size_t>& r, std::size_t k) const { return k == 0 ? 0 : k <= r.size() ? point(r[k - 1]) : m_end; }

  Timing timing(const std::vector<std::size_t>& r) const {
    Timing t;
    const std::size_t n = r.size();
    t.arrival.resize(n), t.start.resize(n), t.departure.resize(n), t.slack.resize(n);
    double now = 0;
    std::size_t prev = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const Checkpoint& c = m_req.checkpoints[r[k]];
      t.arrival[k] = now + travel(prev, point(r[k]));
      t.start[k] = c.window ? std::max(t.arrival[k], (*c.window)[0]) : t.arrival[k];
      if (c.window && t.start[k] > (*c.window)[1]) t.feasible = false;
      t.departure[k] = t.start[k] + c.service_s;
      now = t.departure[k];
      prev = point(r[k]);
    }
    t.end = now + travel(prev, m_end);
    if (t.end > m_req.max_s) t.feasible = false;
    double next = m_req.max_s - t.end;  // slack of whatever follows stop k
    for (std::size_t k = n; k-- > 0;) {
      const Checkpoint& c = m_req.checkpoints[r[k]];
      t.slack[k] = std::min(c.window ? (*c.window)[1] - t.start[k] : kInf, next);
      next = t.start[k] - t.arrival[k] + t.slack[k];  // waiting absorbs delay
    }
    return t;
  }

  // A matrix for the tour solver over `cps`, in one of two forms.
  // Symmetric travel times (foot, or no one-way street in the way): node 0 is the start, nodes
  // 1..k the checkpoints, service split over arriving and leaving (s_i + s_j) / 2, and a distinct
  // end is node k + 1, tied to the start by an edge of cost -kTie that every good tour takes; the
  // solver then has 2-opt and the 1-tree bound. Otherwise node 0 leaves like the start and arrives
  // like the end, and each arc carries the service at its head.
  struct Model {
    CostMatrix c;
    bool end_node = false;
    double offset = 0;  // true cost = tour length + offset
  };
  static constexpr double kTie = 1e8;

  bool symmetric_travel(const std::vector<std::size_t>& cps) const {
    std::vector<std::size_t> pts{0};
    if (m_end != 0) pts.push_back(m_end);
    for (auto cp : cps) pts.push_back(point(cp));
    for (std::size_t i = 0; i < pts.size(); ++i)
      for (std::size_t j = i + 1; j < pts.size(); ++j)
        if (std::abs(travel(pts[i], pts[j]) - travel(pts[j], pts[i])) > 1e-6) return false;
    return true;
  }

  Model model(const std::vector<std::size_t>& cps, std::optional<std::uint64_t> vary) const {
    auto scaled = [&](std::size_t a, std::size_t b, bool sym) {
      const double t = sym ? (travel(a, b) + travel(b, a)) / 2 : travel(a, b);
      if (!vary) return t;
      const std::uint64_t key = sym ? std::min(a, b) * 65537 + std::max(a, b) : a * 65537 + b;
      return t * (1 + kVary * static_cast<double>(mix(*vary ^ mix(key)) >> 11) * 0x1.0p-53);
    };
    auto service = [&](std::size_t k) { return m_req.checkpoints[cps[k]].service_s; };
    Model md;
    const std::size_t k = cps.size();
    if (symmetric_travel(cps)) {
      md.end_node = m_end != 0;
      const std::size_t n = k + 1 + (md.end_node ? 1 : 0);
      md.c = CostMatrix(n);
      auto pt = [&](std::size_t i) { return i == 0 ? 0 : i <= k ? point(cps[i - 1]) : m_end; };
      auto half = [&](std::size_t i) { return i == 0 || i > k ? 0.0 : service(i - 1) / 2; };
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = i + 1; j < n; ++j) {
          const double v = scaled(pt(i), pt(j), true) + half(i) + half(j);
          md.c.at(i, j) = v, md.c.at(j, i) = v;
        }
      if (md.end_node) {
        md.c.at(0, k + 1) = md.c.at(k + 1, 0) = -kTie;
        md.offset = kTie + scaled(0, m_end, true);
      }
      return md;
    }
    md.c = CostMatrix(k + 1);
    for (std::size_t i = 0; i <= k; ++i)
      for (std::size_t j = 0; j <= k; ++j) {
        if (i == j) continue;
        const std::size_t a = i == 0 ? 0 : point(cps[i - 1]), b = j == 0 ? m_end : point(cps[j - 1]);
        md.c.at(i, j) = scaled(a, b, false) + (j == 0 ? 0 : service(j - 1));
      }
    return md;
  }

  // The checkpoints in visiting order from a tour on model(cps).
  std::vector<std::size_t> decode(const Model& md, const std::vector<std::size_t>& cps, Tour t) const {
    if (md.end_node) {
      const std::uint32_t e = static_cast<std::uint32_t>(cps.size() + 1);
      if (t.size() > 1 && t[1] == e) std::reverse(t.begin() + 1, t.end());  // walked end-first
    }
    std::vector<std::size_t> out;
    for (std::size_t i = 1; i < t.size(); ++i)
      if (t[i] <= cps.size()) out.push_back(cps[t[i] - 1]);
    return out;
  }

  // The best order through `cps`: exact up to kExactMaxStops, else local search.
  std::vector<std::size_t> order(const std::vector<std::size_t>& cps) const {
    const Model md = model(cps, m_req.vary);
    TourOptions o;
    o.seed = m_req.vary ? mix(*m_req.vary) : 1;
    o.time_limit_s = m_req.time_limit_s > 0 ? m_req.time_limit_s : std::clamp(0.00015 * static_cast<double>(cps.size()), 0.01, 0.25);
    const bool small = cps.size() <= kExactMaxStops;
    return decode(md, cps, small ? held_karp_exact(md.c) : local_search_tour(md.c, o));
  }

  // Lower bound on the time (travel and service) of any tour through `cps`, and whether `route`
  // (through the same checkpoints) is optimal.
  std::pair<double, bool> bound(const std::vector<std::size_t>& route) const {
    const Model md = model(route, std::nullopt);
    const double cost = this->cost(route);
    if (route.size() <= kExactMaxStops) {
      const double opt = tour_length(md.c, held_karp_exact(md.c)) + md.offset;
      return {std::min(opt, cost), cost <= opt + 1e-6};
    }
    // The bound's own length hint: the route's cost in the model's terms.
    return {std::min(cost, tour_lower_bound(md.c, cost - md.offset) + md.offset), false};
  }

  // Cheapest feasible insertions by priority per added second, from `pool` into `r`, until none fits.
  void insert(std::vector<std::size_t>& r, const std::vector<std::size_t>& pool) const {
    std::vector<char> in(m_req.checkpoints.size(), 0);
    for (auto cp : r) in[cp] = 1;
    while (true) {
      const Timing t = timing(r);
      double best_score = -1, best_added = kInf;
      std::size_t best_cp = 0, best_pos = 0;
      for (std::size_t cp : pool) {
        if (in[cp]) continue;
        const Checkpoint& c = m_req.checkpoints[cp];
        const std::size_t x = point(cp);
        for (std::size_t pos = 0; pos <= r.size(); ++pos) {
          const std::size_t prev = at(r, pos), next = at(r, pos + 1);
          const double leave = pos == 0 ? 0 : t.departure[pos - 1];
          const double arrive = leave + travel(prev, x);
          const double start = c.window ? std::max(arrive, (*c.window)[0]) : arrive;
          if (c.window && start > (*c.window)[1]) continue;
          const double next_arrival = start + c.service_s + travel(x, next);
          if (pos == r.size()) {
            if (next_arrival > m_req.max_s) continue;
          } else {
            const Checkpoint& nc = m_req.checkpoints[r[pos]];
            const double next_start = nc.window ? std::max(next_arrival, (*nc.window)[0]) : next_arrival;
            if (next_start - t.start[pos] > t.slack[pos]) continue;
          }
          const double added = travel(prev, x) + c.service_s + travel(x, next) - travel(prev, next);
          if (added >= kNoPath / 2) continue;
          const double score = c.priority / std::max(added, 1.0);
          if (score > best_score || (score == best_score && added < best_added))
            best_score = score, best_added = added, best_cp = cp, best_pos = pos;
        }
      }
      if (best_score < 0) return;
      r.insert(r.begin() + static_cast<std::ptrdiff_t>(best_pos), best_cp);
      in[best_cp] = 1;
    }
  }

  double cost(const std::vector<std::size_t>& r) const {
    double s = 0;
    for (std::size_t k = 0; k <= r.size(); ++k) s += travel(at(r, k), at(r, k + 1));
    for (auto cp : r) s += m_req.checkpoints[cp].service_s;
    return s;
  }

 private:
  const PatrolRequest& m_req;
  const std::vector<std::vector<std::optional<Cost>>>& m_m;
  std::size_t m_end, m_first;
};

}  // namespace

std::vector<std::vector<std::optional<Cost>>> cost_matrix(const Graph& g, const std::vector<std::optional<Snap>>& points,
                                                          unsigned threads) {
  std::vector<std::vector<std::optional<Cost>>> m(points.size());
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  auto work = [&] {
    try {
      for (std::size_t i; (i = next++) < points.size() && !failed;)
        m[i] = points[i] ? g.costs(*points[i], points) : std::vector<std::optional<Cost>>(points.size());
    } catch (...) {
      if (!failed.exchange(true)) error = std::current_exception();
    }
  };
  threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(points.size())));
  std::vector<std::thread> pool;
  for (unsigned k = 1; k < threads; ++k) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return m;
}

PatrolPlan plan_patrol(const Graph& g, const PatrolRequest& req) {
  PatrolPlan plan;
  const auto t0 = Clock::now();
  // Positions: 0 the start, then the end when it differs, then the checkpoints.
  std::vector<std::optional<Snap>> snaps;
  snaps.push_back(g.snap(req.start, Router::kMaxSnapM));
  if (!snaps[0]) {
    plan.failure = {"start", "too_far_from_street"};
    return plan;
  }
  std::size_t end = 0;
  if (req.end) {
    end = 1;
    snaps.push_back(g.snap(*req.end, Router::kMaxSnapM));
    if (!snaps[1]) {
      plan.failure = {"end", "too_far_from_street"};
      return plan;
    }
  }
  const std::size_t first = snaps.size();
  for (const auto& c : req.checkpoints) snaps.push_back(g.snap(c.location, Router::kMaxSnapM));
  const auto m = cost_matrix(g, snaps);
  plan.matrix_seconds = seconds_since(t0);
  if (req.end && !m[0][end]) {
    plan.failure = {"end", "unreachable"};
    return plan;
  }

  const auto t1 = Clock::now();
  Planner p(req, m, end, first);
  std::vector<std::size_t> candidates;
  for (std::size_t cp = 0; cp < req.checkpoints.size(); ++cp) {
    const std::size_t x = first + cp;
    if (!snaps[x])
      plan.skipped.push_back({cp, "too_far_from_street"});
    else if (!m[0][x] || !m[x][end])
      plan.skipped.push_back({cp, "unreachable"});
    else
      candidates.push_back(cp);
  }

  std::vector<std::size_t> route;
  for (int attempt = 0; attempt < 8; ++attempt) {
    route = p.order(candidates);
    if (!p.timing(route).feasible) {
      // Not all fit: choose by priority, then alternate re-ordering and inserting more.
      route.clear();
      p.insert(route, candidates);
      for (int round = 0; round < 4; ++round) {
        const std::size_t before = route.size();
        auto better = p.order(route);
        if (p.timing(better).feasible && p.cost(better) < p.cost(route) - 1e-6) route = better;
        p.insert(route, candidates);
        if (route.size() == before) break;
      }
    }
    // A leg without a path (possible with one-way streets): its checkpoint is unreachable from
    // the one before; leave it out and plan again.
    std::size_t broken = route.size();
    for (std::size_t k = 0; k <= route.size() && broken == route.size(); ++k)
      if (!m[p.at(route, k)][p.at(route, k + 1)]) broken = k < route.size() ? k : k - 1;
    if (broken == route.size()) break;
    plan.skipped.push_back({route[broken], "unreachable"});
    candidates.erase(std::find(candidates.begin(), candidates.end(), route[broken]));
    route.clear();
  }
  std::vector<char> chosen(req.checkpoints.size(), 0);
  for (auto cp : route) chosen[cp] = 1;
  for (std::size_t cp : candidates) {
    if (chosen[cp]) continue;
    // Without a shift cap only time windows can keep a checkpoint out.
    const bool alone = p.timing({cp}).feasible;
    const bool capped = std::isfinite(req.max_s);
    plan.skipped.push_back({cp, (alone ? capped : !req.checkpoints[cp].window) ? "shift" : "time_window"});
  }
  std::sort(plan.skipped.begin(), plan.skipped.end(), [](const PatrolSkip& a, const PatrolSkip& b) { return a.checkpoint < b.checkpoint; });

  // The bound is on the true costs of the chosen stops (the order may come from varied costs).
  const auto [lower, optimal] = p.bound(route);
  plan.lower_bound_s = lower;
  plan.exact = optimal;
  const Timing t = p.timing(route);
  plan.duration_s = route.empty() ? p.travel(0, end) : t.end;
  for (std::size_t k = 0; k < route.size(); ++k)
    plan.stops.push_back({route[k], snaps[first + route[k]]->point, t.arrival[k], t.start[k], t.departure[k]});
  // The legs' street paths are independent searches: two threads, like the matrix.
  std::vector<std::optional<Path>> legs(route.size() + 1);
  {
    std::atomic<std::size_t> next{0};
    auto work = [&] {
      for (std::size_t k; (k = next++) < legs.size();) legs[k] = g.route(*snaps[p.at(route, k)], *snaps[p.at(route, k + 1)]);
    };
    std::thread helper;
    if (legs.size() > 8) helper = std::thread(work);
    work();
    if (helper.joinable()) helper.join();
  }
  for (std::size_t k = 0; k <= route.size(); ++k) {
    plan.distance_m += p.metres(p.at(route, k), p.at(route, k + 1));
    if (!legs[k]) continue;  // cannot happen: the matrix had this leg
    for (const auto& q : legs[k]->coordinates)
      if (plan.geometry.empty() || plan.geometry.back() != q) plan.geometry.push_back(q);
  }
  if (plan.geometry.size() == 1) plan.geometry.push_back(plan.geometry.front());
  plan.solve_seconds = seconds_since(t1);
  return plan;
}

}  // namespace wangge::route
