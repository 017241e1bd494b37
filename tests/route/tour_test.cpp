// The tour solver against brute force and bounds, the TSPLIB reader against the published optimal
// tours, and patrol planning (shift cap, time windows, vary, unreachable checkpoints) on a
// hand-made street lattice. No database.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <unistd.h>

#include "route/patrol.hpp"
#include "route/tour.hpp"
#include "route/tsplib.hpp"

using namespace wangge::route;

namespace {

// Points in a 1000 x 1000 square, TSPLIB EUC_2D distances; `skew` > 0 makes c(i, j) != c(j, i).
CostMatrix random_matrix(std::size_t n, std::uint64_t seed, double skew) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1000), s(0, skew);
  std::vector<std::array<double, 2>> p(n);
  for (auto& q : p) q = {u(rng), u(rng)};
  CostMatrix c(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j)
      if (i != j) c.at(i, j) = std::round(std::hypot(p[i][0] - p[j][0], p[i][1] - p[j][1]) * (1 + s(rng)));
  return c;
}

double brute_force(const CostMatrix& c) {
  Tour t(c.size());
  std::iota(t.begin(), t.end(), 0u);
  double best = tour_length(c, t);
  while (std::next_permutation(t.begin() + 1, t.end())) best = std::min(best, tour_length(c, t));
  return best;
}

void expect_permutation(const Tour& t, std::size_t n) {
  ASSERT_EQ(t.size(), n);
  EXPECT_EQ(t[0], 0u);
  std::set<std::uint32_t> s(t.begin(), t.end());
  EXPECT_EQ(s.size(), n);
  EXPECT_EQ(*s.rbegin(), n - 1);
}

std::string geodata() {
  const char* v = std::getenv("WANGGE_GEODATA_SRC");
  return v ? v : std::string(WANGGE_SOURCE_DIR) + "/../shared/geodata-src";
}

bool in_ci() {
  const char* v = std::getenv("CI");
  return v && std::string(v) == "true";
}

}  // namespace

TEST(Tour, ExactMatchesBruteForce) {
  for (std::size_t n = 2; n <= 9; ++n) {
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
      for (double skew : {0.0, 0.6}) {
        const CostMatrix c = random_matrix(n, seed * 100 + n, skew);
        const Tour t = held_karp_exact(c);
        expect_permutation(t, n);
        EXPECT_DOUBLE_EQ(tour_length(c, t), brute_force(c)) << "n " << n << " seed " << seed << " skew " << skew;
        const TourResult r = solve_tour(c);
        EXPECT_TRUE(r.exact);
        EXPECT_DOUBLE_EQ(r.length, tour_length(c, t));
      }
    }
  }
}

TEST(Tour, LocalSearchFindsTheOptimumOfSmallInstances) {
  // Below kExactMaxNodes solve_tour never runs the local search; run it directly, symmetric and
  // asymmetric (the asymmetric moves must keep every segment's direction).
  TourOptions o;
  o.time_limit_s = 10;  // stop by stall, not by the clock: the same answer on a slow machine
  o.max_stall = 3000;
  for (std::size_t n = 8; n <= 9; ++n)
    for (std::uint64_t seed = 1; seed <= 8; ++seed)
      for (double skew : {0.0, 0.6}) {
        const CostMatrix c = random_matrix(n, seed * 7 + n, skew);
        const Tour t = local_search_tour(c, o);
        expect_permutation(t, n);
        EXPECT_DOUBLE_EQ(tour_length(c, t), brute_force(c)) << "n " << n << " seed " << seed << " skew " << skew;
      }
}

TEST(Tour, LowerBoundNeverAboveTheOptimum) {
  for (std::size_t n = 3; n <= 13; ++n)
    for (std::uint64_t seed = 1; seed <= 5; ++seed)
      for (double skew : {0.0, 0.3, 1.0}) {
        const CostMatrix c = random_matrix(n, seed * 31 + n, skew);
        const double opt = tour_length(c, held_karp_exact(c));
        const double lb = tour_lower_bound(c, opt, 300);  // fixed steps: the same bound on a loaded machine
        EXPECT_LE(lb, opt) << "n " << n << " seed " << seed << " skew " << skew;
        EXPECT_GT(lb, 0.6 * opt) << "a bound this weak says nothing";
      }
}

TEST(Tour, LocalSearchNearTheHeldKarpBound) {
  // A TSPLIB-like random uniform instance: the optimum is typically ~0.8 % above the Held-Karp
  // bound, so 3 % above it means the local search is within ~2 % of the optimum.
  // Stopped by stall and a fixed number of subgradient steps, not by the clock: the same answer on
  // a loaded machine.
  const CostMatrix c = random_matrix(300, 42, 0);
  TourOptions o;
  o.time_limit_s = 60;
  o.max_stall = 3000;
  const TourResult r = solve_tour(c, o);
  expect_permutation(r.order, 300);
  EXPECT_FALSE(r.exact);
  EXPECT_DOUBLE_EQ(r.length, tour_length(c, r.order));
  EXPECT_LE(r.lower_bound, r.length);
  const double lb = tour_lower_bound(c, r.length, 1000);
  EXPECT_LE(lb, r.length);
  EXPECT_LT((r.length - lb) / lb, 0.03) << r.length << " vs bound " << lb;
  // The nearest-neighbour start alone is ~25 % above: the search did the work.
  TourOptions none = o;
  none.max_stall = 1;
  EXPECT_LT(r.length, tour_length(c, local_search_tour(c, none)) + 1e-9);

  // Asymmetric: the bound (assignment / 1-tree on min costs) stays below and the tour near it.
  const CostMatrix a = random_matrix(120, 43, 0.4);
  const TourResult ra = solve_tour(a, o);
  expect_permutation(ra.order, 120);
  EXPECT_LE(ra.lower_bound, ra.length);
  const double la = tour_lower_bound(a, ra.length, 1000);
  EXPECT_LE(la, ra.length);
  EXPECT_LT((ra.length - la) / la, 0.1) << ra.length << " vs bound " << la;
}

TEST(Tsplib, DistanceFunctions) {
  EXPECT_EQ(tsplib_distance("EUC_2D", {0, 0}, {1, 1}), 1);    // nint(1.414)
  EXPECT_EQ(tsplib_distance("EUC_2D", {0, 0}, {1.5, 2}), 3);  // nint(2.5) rounds half up
  EXPECT_EQ(tsplib_distance("CEIL_2D", {0, 0}, {1, 1}), 2);
  EXPECT_EQ(tsplib_distance("ATT", {0, 0}, {10, 0}), 4);    // r = 3.16, nint 3 < r: 4
  EXPECT_EQ(tsplib_distance("ATT", {0, 0}, {30, 40}), 16);  // r = 15.81, nint 16
  // GEO: DDD.MM; 0.30 is 30 minutes = half a degree of the equator: 6378.388 * pi/360 = 55.66 km.
  EXPECT_EQ(tsplib_distance("GEO", {0, 0}, {0, 0.30}), 56);
  EXPECT_THROW(tsplib_distance("XRAY1", {0, 0}, {1, 1}), tsplib_error);
}

TEST(Tsplib, ExplicitFormats) {
  const auto dir = std::filesystem::temp_directory_path() / ("wangge_tsplib_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& format, const std::string& weights) {
    std::ofstream(dir / name) << "NAME: " << name << "\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: " << format
                              << "\nEDGE_WEIGHT_SECTION\n"
                              << weights << "\nEOF\n";
    return read_tsplib((dir / name).string()).matrix;
  };
  // The same matrix (1-2: 5, 1-3: 7, 2-3: 9) in four layouts.
  for (const auto& m : {write("a", "FULL_MATRIX", "0 5 7\n5 0 9\n7 9 0"), write("b", "UPPER_ROW", "5 7\n9"),
                        write("c", "LOWER_DIAG_ROW", "0\n5 0\n7 9 0"), write("d", "UPPER_DIAG_ROW", "0 5 7 0 9 0")}) {
    EXPECT_EQ(m(0, 1), 5);
    EXPECT_EQ(m(2, 0), 7);
    EXPECT_EQ(m(1, 2), 9);
    EXPECT_EQ(m(1, 1), 0);
  }
  EXPECT_THROW(write("e", "UPPER_ROW", "5 7"), tsplib_error);
  EXPECT_THROW(write("f", "UPPER_ROW", "5 7 9 11"), tsplib_error);
  std::filesystem::remove_all(dir);
}

TEST(Tsplib, OptimalToursHaveThePublishedLengths) {
  const std::string dir = geodata() + "/tsplib";
  if (!std::filesystem::exists(dir + "/bestSolutions.txt")) {
    if (in_ci()) FAIL() << dir << " is missing (CI=true)";
    GTEST_SKIP() << dir << " is missing: ../shared/geodata-src holds the TSPLIB set";
  }
  const auto best = read_best_solutions(dir + "/bestSolutions.txt");
  // One instance per distance function and matrix layout.
  for (const char* name : {"att48", "gr96", "ulysses22", "ch130", "bayg29", "bays29", "gr24", "pa561", "pcb442"}) {
    const auto inst = read_tsplib(dir + "/" + name + ".tsp");
    const Tour t = read_tsplib_tour(dir + "/" + name + ".opt.tour");
    EXPECT_EQ(tour_length(inst.matrix, t), best.at(name)) << name;
  }
  // And the solver reaches them on small ones.
  for (const char* name : {"ulysses22", "bayg29", "att48"}) {
    const auto inst = read_tsplib(dir + "/" + name + ".tsp");
    TourOptions o;
    o.time_limit_s = 0.5;
    EXPECT_EQ(solve_tour(inst.matrix, o).length, best.at(name)) << name;
  }
}

// --- Patrols on a lattice of residential streets: 7 x 7 crossings 0.002 degrees apart near 120 E,
// 30 N (about 193 m east-west, 222 m north-south), one street per block side.
namespace {

constexpr double kStep = 0.002;
LonLat crossing(int i, int j) { return {120.0 + i * kStep, 30.0 + j * kStep}; }

Router lattice(bool island) {
  std::vector<Street> s;
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 7; ++j) {
      if (i + 1 < 7) s.push_back({{crossing(i, j), crossing(i + 1, j)}, "residential", false});
      if (j + 1 < 7) s.push_back({{crossing(i, j), crossing(i, j + 1)}, "residential", false});
    }
  // One-way along the bottom row, west to east, for the e-bike (foot ignores it).
  for (auto& st : s)
    if (st.points[0].lat == 30.0 && st.points[1].lat == 30.0) st.oneway = true;
  if (island) s.push_back({{{120.1, 30.1}, {120.101, 30.1}}, "residential", false});
  return Router(s);
}

LonLat mid(int i, int j) { return {120.0 + (i + 0.5) * kStep, 30.0 + j * kStep}; }  // mid-block, on a street

PatrolRequest twelve() {
  PatrolRequest r;
  r.start = crossing(0, 0);
  const int at[12][2] = {{1, 1}, {5, 0}, {2, 4}, {4, 5}, {0, 6}, {3, 2}, {5, 3}, {1, 3}, {4, 1}, {2, 6}, {5, 6}, {0, 2}};
  for (const auto& a : at) r.checkpoints.push_back({mid(a[0], a[1]), 120, 1, std::nullopt});
  return r;
}

double legs(const Graph& g, const PatrolRequest& req, const PatrolPlan& p) {
  // Travel time by single routes, plus service: what the plan's duration must be without waits.
  std::vector<LonLat> pts{req.start};
  for (const auto& s : p.stops) pts.push_back(req.checkpoints[s.checkpoint].location);
  pts.push_back(req.end.value_or(req.start));
  double t = 0;
  for (std::size_t k = 0; k + 1 < pts.size(); ++k) t += g.route(*g.snap(pts[k], 500), *g.snap(pts[k + 1], 500))->duration_s;
  for (const auto& s : p.stops) t += req.checkpoints[s.checkpoint].service_s;
  return t;
}

}  // namespace

TEST(Patrol, VisitsAllWhenTheyFitExactly) {
  const Router r = lattice(false);
  const Graph& g = r.graph(Profile::foot);
  const PatrolRequest req = twelve();
  const PatrolPlan p = plan_patrol(g, req);
  ASSERT_FALSE(p.failure);
  EXPECT_EQ(p.stops.size(), 12u);
  EXPECT_TRUE(p.skipped.empty());
  EXPECT_TRUE(p.exact);
  EXPECT_NEAR(p.duration_s, legs(g, req, p), 0.01);
  EXPECT_NEAR(p.lower_bound_s, p.duration_s, 0.01);  // exact: the bound is the optimum
  // Arrival times add up leg by leg, and the geometry starts and ends at the start.
  for (std::size_t k = 1; k < p.stops.size(); ++k) EXPECT_GT(p.stops[k].arrival_s, p.stops[k - 1].departure_s);
  ASSERT_GE(p.geometry.size(), 2u);
  EXPECT_NEAR(p.geometry.front().lon, req.start.lon, 1e-9);
  EXPECT_NEAR(p.geometry.back().lat, req.start.lat, 1e-9);
}

TEST(Patrol, ShiftCapChoosesByPriority) {
  const Router r = lattice(false);
  const Graph& g = r.graph(Profile::foot);
  PatrolRequest req = twelve();
  req.checkpoints[3].priority = 50;  // (4, 5): far from the start, but it matters
  const double all = plan_patrol(g, req).duration_s;
  req.max_s = all * 0.5;
  const PatrolPlan p = plan_patrol(g, req);
  EXPECT_LE(p.duration_s, req.max_s);
  EXPECT_GT(p.stops.size(), 0u);
  EXPECT_LT(p.stops.size(), 12u);
  EXPECT_EQ(p.stops.size() + p.skipped.size(), 12u);
  EXPECT_TRUE(std::any_of(p.stops.begin(), p.stops.end(), [](const PatrolStop& s) { return s.checkpoint == 3; }));
  for (const auto& s : p.skipped) EXPECT_EQ(s.reason, "shift");
  EXPECT_NEAR(p.duration_s, legs(g, req, p), 0.01);
  EXPECT_LE(p.lower_bound_s, p.duration_s);
}

TEST(Patrol, TimeWindowsRespectedOrReported) {
  const Router r = lattice(false);
  const Graph& g = r.graph(Profile::foot);
  PatrolRequest req = twelve();
  // Checkpoint 10 (5, 6), far corner, must be served in the first 45 minutes (it is 29 minutes away); checkpoint 0 (1, 1)
  // not before minute 60; checkpoint 5 in the first minute, which no one can reach.
  req.checkpoints[10].window = std::array<double, 2>{0, 45 * 60};
  req.checkpoints[0].window = std::array<double, 2>{60 * 60, 120 * 60};
  req.checkpoints[5].window = std::array<double, 2>{0, 60};
  const PatrolPlan p = plan_patrol(g, req);
  ASSERT_EQ(p.skipped.size(), 1u);
  EXPECT_EQ(p.skipped[0].checkpoint, 5u);
  EXPECT_EQ(p.skipped[0].reason, "time_window");
  EXPECT_EQ(p.stops.size(), 11u);
  for (const auto& s : p.stops) {
    const auto& w = req.checkpoints[s.checkpoint].window;
    EXPECT_GE(s.start_s, s.arrival_s);
    if (w) {
      EXPECT_GE(s.start_s, (*w)[0] - 1e-6);
      EXPECT_LE(s.start_s, (*w)[1] + 1e-6);
    }
  }
  EXPECT_GE(p.duration_s, 60 * 60);  // someone waited for checkpoint 0
}

TEST(Patrol, VaryGivesAnotherNearBestOrder) {
  const Router r = lattice(false);
  const Graph& g = r.graph(Profile::foot);
  PatrolRequest req = twelve();
  const PatrolPlan base = plan_patrol(g, req);
  auto order = [](const PatrolPlan& p) {
    std::vector<std::size_t> o;
    for (const auto& s : p.stops) o.push_back(s.checkpoint);
    return o;
  };
  std::set<std::vector<std::size_t>> seen{order(base)};
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    req.vary = seed;
    const PatrolPlan v = plan_patrol(g, req);
    EXPECT_EQ(v.stops.size(), 12u);
    EXPECT_LE(v.duration_s, base.duration_s * 1.05);  // near-best (the theoretical limit is 30 %)
    EXPECT_GE(v.duration_s, base.duration_s - 1e-6);  // base is optimal
    EXPECT_EQ(order(plan_patrol(g, req)), order(v));  // the same seed, the same tour
    seen.insert(order(v));
  }
  EXPECT_GE(seen.size(), 3u) << "vary should give different orders";
}

TEST(Patrol, UnreachableCheckpointsAreReportedNotFatal) {
  const Router r = lattice(true);
  const Graph& g = r.graph(Profile::foot);
  PatrolRequest req = twelve();
  req.checkpoints.push_back({{120.1005, 30.1}, 60, 1, std::nullopt});  // on the island
  req.checkpoints.push_back({{121.0, 31.0}, 60, 1, std::nullopt});     // far from every street
  const PatrolPlan p = plan_patrol(g, req);
  ASSERT_FALSE(p.failure);
  EXPECT_EQ(p.stops.size(), 12u);
  ASSERT_EQ(p.skipped.size(), 2u);
  EXPECT_EQ(p.skipped[0].checkpoint, 12u);
  EXPECT_EQ(p.skipped[0].reason, "unreachable");
  EXPECT_EQ(p.skipped[1].reason, "too_far_from_street");
  req.start = {121.0, 31.0};
  EXPECT_EQ((*plan_patrol(g, req).failure)[0], "start");
}

TEST(Patrol, OneWayStreetsGiveAsymmetricCosts) {
  const Router r = lattice(false);
  const Graph& g = r.graph(Profile::ebike);
  PatrolRequest req = twelve();
  req.end = crossing(6, 6);
  const PatrolPlan p = plan_patrol(g, req);
  EXPECT_EQ(p.stops.size(), 12u);
  EXPECT_NEAR(p.duration_s, legs(g, req, p), 0.01);
  EXPECT_NEAR(p.geometry.back().lon, crossing(6, 6).lon, 1e-9);
  // Reversed, start and end swapped, the bottom row's one-way changes the costs.
  PatrolRequest back = req;
  back.start = crossing(6, 6);
  back.end = crossing(0, 0);
  EXPECT_EQ(plan_patrol(g, back).stops.size(), 12u);
}
