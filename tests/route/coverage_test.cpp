// The postman solver against brute force on small random graphs: undirected (every edge doubled or
// not, keeping degrees even), directed (every arc repeated 0..3 times, keeping in = out), matchings
// against every pairing; and the shape of every answer: a closed, continuous walk from the start
// that serves each required edge (arc) exactly once.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <algorithm>
#include <array>
#include <functional>
#include <random>

#include "route/coverage.hpp"
#include "route/postman_phases.hpp"

using namespace wangge::route;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A connected random graph on n nodes: a random spanning tree plus extra edges; costs 1..20.
std::vector<PostmanEdge> random_graph(std::mt19937& rng, std::uint32_t n, std::size_t extra, bool one_way) {
  std::vector<PostmanEdge> edges;
  std::uniform_int_distribution<int> cost(1, 20);
  for (std::uint32_t v = 1; v < n; ++v) {
    std::uniform_int_distribution<std::uint32_t> pick(0, v - 1);
    edges.push_back({pick(rng), v, double(cost(rng)), true, !one_way});
  }
  std::uniform_int_distribution<std::uint32_t> any(0, n - 1);
  for (std::size_t i = 0; i < extra; ++i) edges.push_back({any(rng), any(rng), double(cost(rng)), true, !one_way});
  if (one_way) {  // a cycle through every node keeps it strongly connected
    for (std::uint32_t v = 0; v < n; ++v) edges.push_back({v, (v + 1) % n, double(cost(rng)), true, false});
  }
  return edges;
}

std::vector<std::uint32_t> all_edges(const std::vector<PostmanEdge>& e) {
  std::vector<std::uint32_t> r(e.size());
  for (std::uint32_t i = 0; i < e.size(); ++i) r[i] = i;
  return r;
}

// Checks the walk and returns its cost.
double check_walk(const std::vector<PostmanEdge>& edges, const std::vector<std::uint32_t>& required, const PostmanResult& r,
                  PostmanMode mode) {
  EXPECT_FALSE(r.circuit.empty());
  std::uint32_t at = r.start;
  double cost = 0;
  std::vector<int> served_fwd(edges.size(), 0), served_bwd(edges.size(), 0);
  for (const auto& t : r.circuit) {
    const auto& e = edges[t.edge];
    const std::uint32_t from = t.forward ? e.from : e.to, to = t.forward ? e.to : e.from;
    EXPECT_EQ(from, at) << "walk is not continuous";
    if (mode != PostmanMode::undirected) {
      EXPECT_TRUE(t.forward ? e.forward : e.backward) << "against a one-way edge";
    }
    at = to;
    cost += e.cost;
    if (t.service) ++(mode == PostmanMode::directed && !t.forward ? served_bwd : served_fwd)[t.edge];
  }
  EXPECT_EQ(at, r.start) << "walk is not closed";
  EXPECT_NEAR(cost, r.cost, 1e-9);
  for (auto e : required) {
    if (mode == PostmanMode::directed) {
      EXPECT_EQ(served_fwd[e], edges[e].forward ? 1 : 0) << "edge " << e;
      EXPECT_EQ(served_bwd[e], edges[e].backward ? 1 : 0) << "edge " << e;
    } else {
      EXPECT_EQ(served_fwd[e], 1) << "edge " << e;
    }
  }
  return cost;
}

// Cheapest set of duplicated edges that makes every degree even (each edge at most once more).
double brute_undirected(std::uint32_t n, const std::vector<PostmanEdge>& edges) {
  double base = 0;
  for (const auto& e : edges) base += e.cost;
  double best = kInf;
  for (std::uint32_t mask = 0; mask < (1u << edges.size()); ++mask) {
    std::vector<int> deg(n, 0);
    double extra = 0;
    for (std::uint32_t i = 0; i < edges.size(); ++i) {
      const int copies = 1 + ((mask >> i) & 1);
      deg[edges[i].from] += copies, deg[edges[i].to] += copies;
      if ((mask >> i) & 1) extra += edges[i].cost;
    }
    bool even = true;
    for (int d : deg) even = even && d % 2 == 0;
    if (even) best = std::min(best, base + extra);
  }
  return best;
}

// Cheapest repetition counts (0..3 extra per arc) that balance every node.
double brute_directed(std::uint32_t n, const std::vector<PostmanEdge>& edges) {
  double base = 0;
  for (const auto& e : edges) base += e.cost;
  double best = kInf;
  std::vector<int> extra(edges.size(), 0);
  while (true) {
    std::vector<int> b(n, 0);
    double c = base;
    for (std::size_t i = 0; i < edges.size(); ++i) {
      b[edges[i].from] -= 1 + extra[i], b[edges[i].to] += 1 + extra[i];
      c += extra[i] * edges[i].cost;
    }
    if (std::all_of(b.begin(), b.end(), [](int x) { return x == 0; })) best = std::min(best, c);
    std::size_t i = 0;
    while (i < extra.size() && extra[i] == 3) extra[i++] = 0;
    if (i == extra.size()) break;
    ++extra[i];
  }
  return best;
}

}  // namespace

TEST(Postman, UndirectedEqualsBruteForce) {
  std::mt19937 rng(6);
  for (int round = 0; round < 60; ++round) {
    const std::uint32_t n = 3 + round % 5;
    auto edges = random_graph(rng, n, 2 + round % 6, false);
    const auto req = all_edges(edges);
    auto got = postman(n, edges, req, PostmanMode::undirected, [](std::uint32_t v) { return double(v); });
    ASSERT_TRUE(got.result) << "round " << round;
    EXPECT_EQ(got.result->start, 0u);
    const double cost = check_walk(edges, req, *got.result, PostmanMode::undirected);
    EXPECT_NEAR(cost, brute_undirected(n, edges), 1e-9) << "round " << round;
    EXPECT_NE(got.result->method, "heuristic_matching");

    // The heuristic matching is never below the optimum and never below its stated bound.
    auto heur = postman(
        n, edges, req, PostmanMode::undirected, [](std::uint32_t v) { return double(v); }, 0);
    ASSERT_TRUE(heur.result);
    check_walk(edges, req, *heur.result, PostmanMode::undirected);
    EXPECT_GE(heur.result->cost, cost - 1e-9);
    // The stated bound is a true lower bound: never above the exact matching's cost.
    if (!heur.result->matching_lower_bound) {
      EXPECT_EQ(heur.result->method, "none");  // no odd vertex: nothing to match
      continue;
    }
    EXPECT_LE(*heur.result->matching_lower_bound, got.result->matching_cost + 1e-9) << "round " << round;
    EXPECT_GE(heur.result->matching_cost, got.result->matching_cost - 1e-9);
  }
}

TEST(Postman, DirectedEqualsBruteForce) {
  std::mt19937 rng(7);
  for (int round = 0; round < 25; ++round) {
    const std::uint32_t n = 3 + round % 2;  // at most 3 + 2 + 4 arcs: 4^9 repetition choices
    auto edges = random_graph(rng, n, round % 3, true);
    const auto req = all_edges(edges);
    auto got = postman(n, edges, req, PostmanMode::directed, [](std::uint32_t) { return 0.0; });
    const double brute = brute_directed(n, edges);
    ASSERT_LT(brute, kInf);
    ASSERT_TRUE(got.result) << "round " << round;
    EXPECT_EQ(got.result->method, "min_cost_flow");
    EXPECT_NEAR(check_walk(edges, req, *got.result, PostmanMode::directed), brute, 1e-9) << "round " << round;
  }
}

TEST(Postman, TwoWayStreetsAreTwoArcsWhenDirected) {
  // A single two-way edge: both kerbs, there and back.
  std::vector<PostmanEdge> edges{{0, 1, 5, true, true}};
  auto got = postman(2, edges, {0}, PostmanMode::directed, [](std::uint32_t v) { return double(v); });
  ASSERT_TRUE(got.result);
  EXPECT_EQ(got.result->circuit.size(), 2u);
  EXPECT_NEAR(got.result->service_cost, 10, 1e-9);
  EXPECT_NEAR(got.result->deadhead_cost, 0, 1e-9);
  auto und = postman(2, edges, {0}, PostmanMode::undirected, [](std::uint32_t v) { return double(v); });
  ASSERT_TRUE(und.result);
  EXPECT_NEAR(und.result->service_cost, 5, 1e-9);
  EXPECT_NEAR(und.result->deadhead_cost, 5, 1e-9);
}

TEST(Postman, RuralJoinsComponentsAndStartsWhereAsked) {
  // A path 0-1-2-3-4-5; only 0-1 and 4-5 are required: the walk must reach across 1..4.
  std::vector<PostmanEdge> edges;
  for (std::uint32_t v = 0; v < 5; ++v) edges.push_back({v, v + 1, 1.0 + v, true, true});
  const std::vector<std::uint32_t> req{0, 4};
  for (auto mode : {PostmanMode::undirected, PostmanMode::directed, PostmanMode::mixed}) {
    auto got = postman(6, edges, req, mode, [](std::uint32_t v) { return std::abs(double(v) - 5); });
    ASSERT_TRUE(got.result);
    EXPECT_EQ(got.result->components, 2u);
    EXPECT_EQ(got.result->start, 5u);
    check_walk(edges, req, *got.result, mode);
    const double service = mode == PostmanMode::directed ? 2 * (1 + 5) : 1 + 5;
    EXPECT_NEAR(got.result->service_cost, service, 1e-9);
    // The connection 1..4 is walked there and back: 2 * (2 + 3 + 4); undirected also repeats both ends.
    EXPECT_NEAR(got.result->cost, mode == PostmanMode::directed ? 12 + 18 : 2 * (1 + 2 + 3 + 4 + 5), 1e-9);
  }
}

TEST(Postman, MixedRespectsOneWays) {
  std::mt19937 rng(8);
  for (int round = 0; round < 30; ++round) {
    const std::uint32_t n = 4 + round % 4;
    auto edges = random_graph(rng, n, 3, false);
    // Make some edges one-way; the added cycle keeps everything reachable.
    for (std::size_t i = 0; i < edges.size(); i += 3) edges[i].backward = false;
    for (std::uint32_t v = 0; v < n; ++v) edges.push_back({v, (v + 1) % n, 3, true, false});
    const auto req = all_edges(edges);
    auto got = postman(n, edges, req, PostmanMode::mixed, [](std::uint32_t) { return 0.0; });
    ASSERT_TRUE(got.result) << "round " << round;
    check_walk(edges, req, *got.result, PostmanMode::mixed);
  }
}

TEST(Postman, UnreachableAndEmpty) {
  std::vector<PostmanEdge> edges{{0, 1, 1, true, false}, {2, 3, 1, true, false}};
  auto none = postman(4, edges, {}, PostmanMode::directed, [](std::uint32_t) { return 0.0; });
  EXPECT_FALSE(none.result);
  EXPECT_EQ(none.failure, PostmanFailure::nothing_required);
  auto cut = postman(4, edges, {0, 1}, PostmanMode::directed, [](std::uint32_t) { return 0.0; });
  EXPECT_FALSE(cut.result);
  EXPECT_EQ(cut.failure, PostmanFailure::unreachable);
  edges[0].forward = false;
  auto unusable = postman(4, edges, {0}, PostmanMode::undirected, [](std::uint32_t) { return 0.0; });
  EXPECT_EQ(unusable.failure, PostmanFailure::unusable_required_edge);
}

TEST(Postman, HeuristicMatchingOnLargerSets) {
  // Random points in the plane; the heuristic forced (exact limit 0). It must stay within 10 % of
  // its own bound here, and for up to 18 points the exact DP must lie between the two.
  std::mt19937 rng(10);
  std::uniform_real_distribution<double> u(0, 1000);
  for (std::size_t n : {16u, 18u, 40u, 120u}) {
    // A star: a centre joined to n leaves, every leaf odd (and the centre too when n is odd).
    std::vector<PostmanEdge> edges;
    std::vector<std::array<double, 2>> at(n + 1);
    for (auto& p : at) p = {u(rng), u(rng)};
    for (std::uint32_t v = 1; v <= n; ++v) edges.push_back({0, v, std::hypot(at[v][0] - at[0][0], at[v][1] - at[0][1]), true, true});
    const auto req = all_edges(edges);
    auto heur = postman(
        n + 1, edges, req, PostmanMode::undirected, [](std::uint32_t) { return 0.0; }, 0);
    ASSERT_TRUE(heur.result);
    EXPECT_EQ(heur.result->method, "heuristic_matching");
    check_walk(edges, req, *heur.result, PostmanMode::undirected);
    ASSERT_TRUE(heur.result->matching_lower_bound);
    EXPECT_LE(heur.result->matching_cost, *heur.result->matching_lower_bound * 1.10) << n;
    if (n <= 18) {
      auto exact = postman(n + 1, edges, req, PostmanMode::undirected, [](std::uint32_t) { return 0.0; });
      ASSERT_TRUE(exact.result);
      EXPECT_EQ(exact.result->method, "exact_matching");
      EXPECT_LE(*heur.result->matching_lower_bound, exact.result->matching_cost + 1e-9);
      EXPECT_GE(heur.result->matching_cost, exact.result->matching_cost - 1e-9);
    }
  }
}

TEST(Postman, ExactMatchingEqualsEveryPairing) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> u(0, 100);
  for (int round = 0; round < 20; ++round) {
    const std::size_t n = 2 * (1 + round % 5);
    std::vector<std::vector<double>> d(n, std::vector<double>(n));
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = i + 1; j < n; ++j) d[i][j] = d[j][i] = u(rng);
    // Every pairing, recursively.
    std::function<double(std::vector<std::size_t>)> best = [&](std::vector<std::size_t> left) {
      if (left.empty()) return 0.0;
      double b = kInf;
      for (std::size_t k = 1; k < left.size(); ++k) {
        std::vector<std::size_t> rest;
        for (std::size_t m = 1; m < left.size(); ++m)
          if (m != k) rest.push_back(left[m]);
        b = std::min(b, d[left[0]][left[k]] + best(rest));
      }
      return b;
    };
    std::vector<std::size_t> all(n);
    for (std::size_t i = 0; i < n; ++i) all[i] = i;
    auto m = exact_matching(n, [&](std::size_t i, std::size_t j) { return d[i][j]; });
    ASSERT_TRUE(m);
    double got = 0;
    std::vector<int> seen(n, 0);
    for (auto [i, j] : *m) got += d[i][j], ++seen[i], ++seen[j];
    for (int s : seen) EXPECT_EQ(s, 1);
    EXPECT_NEAR(got, best(all), 1e-9);
  }
}

// The phases of postman() one at a time, on hand-made graphs.
namespace phases = wangge::route::postman_phases;

TEST(PostmanPhases, ServiceStepsFollowTheMode) {
  // 0 -> 1 one-way, 1 - 2 two-way; edge 1 listed twice.
  const std::vector<PostmanEdge> edges{{0, 1, 1, true, false}, {1, 2, 2, true, true}};
  const std::vector<std::uint32_t> req{1, 0, 1};
  const auto undirected = phases::service_steps(edges, req, PostmanMode::undirected);
  ASSERT_TRUE(undirected);
  ASSERT_EQ(undirected->size(), 2u);  // duplicates once, sorted
  EXPECT_EQ((*undirected)[0].t.edge, 0u);
  EXPECT_TRUE((*undirected)[1].t.forward && (*undirected)[1].t.service);
  const auto directed = phases::service_steps(edges, req, PostmanMode::directed);
  ASSERT_TRUE(directed);
  ASSERT_EQ(directed->size(), 3u);  // the two-way street is two arcs
  EXPECT_EQ((*directed)[2].u, 2u);
  EXPECT_EQ((*directed)[2].v, 1u);
  EXPECT_FALSE((*directed)[2].t.forward);
  const std::vector<PostmanEdge> backward_only{{0, 1, 1, false, true}};
  const auto mixed = phases::service_steps(backward_only, {0}, PostmanMode::mixed);
  ASSERT_TRUE(mixed);
  EXPECT_EQ((*mixed)[0].u, 1u);
  EXPECT_FALSE((*mixed)[0].t.forward);
  const std::vector<PostmanEdge> unusable{{0, 1, 1, false, false}};
  EXPECT_FALSE(phases::service_steps(unusable, {0}, PostmanMode::directed));
}

TEST(PostmanPhases, OddNodesAndComponents) {
  // Two pieces: the path 0-1-2 and the single edge 4-5; node 3 untouched.
  const std::vector<PostmanEdge> edges{{0, 1, 1, true, true}, {1, 2, 1, true, true}, {4, 5, 1, true, true}};
  const auto steps = phases::service_steps(edges, all_edges(edges), PostmanMode::undirected);
  ASSERT_TRUE(steps);
  EXPECT_EQ(phases::odd_nodes(*steps, 6), (std::vector<std::uint32_t>{0, 2, 4, 5}));
  const auto comps = phases::components(*steps, 6);
  ASSERT_EQ(comps.size(), 2u);
  EXPECT_EQ(comps[0], (std::vector<std::uint32_t>{0, 1, 2}));
  EXPECT_EQ(comps[1], (std::vector<std::uint32_t>{4, 5}));
}

TEST(PostmanPhases, JoinComponentsAddsTheCheapestLink) {
  // Required 0-1 and 3-4; the only links are 1-2-3 (cost 2 + 3) and the dearer 0-4 (cost 20).
  const std::vector<PostmanEdge> edges{
      {0, 1, 1, true, true}, {1, 2, 2, true, true}, {2, 3, 3, true, true}, {3, 4, 1, true, true}, {0, 4, 20, true, true}};
  auto steps = *phases::service_steps(edges, {0, 3}, PostmanMode::undirected);
  const auto graph = phases::deadhead_graph(5, edges, phases::Directions::either_way);
  ASSERT_TRUE(phases::join_components(phases::components(steps, 5), graph, edges, steps));
  ASSERT_EQ(steps.size(), 4u);
  double added = 0;
  for (std::size_t i = 2; i < steps.size(); ++i) {
    EXPECT_FALSE(steps[i].t.service);
    added += edges[steps[i].t.edge].cost;
  }
  EXPECT_EQ(added, 5);
  EXPECT_EQ(phases::components(steps, 5).size(), 1u);
  // Cut the links: nothing joins the two pieces.
  const std::vector<PostmanEdge> apart{{0, 1, 1, true, true}, {3, 4, 1, true, true}};
  auto lone = *phases::service_steps(apart, {0, 1}, PostmanMode::undirected);
  EXPECT_FALSE(
      phases::join_components(phases::components(lone, 5), phases::deadhead_graph(5, apart, phases::Directions::either_way), apart, lone));
}

TEST(PostmanPhases, PairingAndFlowMakeTheWalkClose) {
  // A path 0-1-2: undirected, its two ends are odd and are paired by walking the path back.
  const std::vector<PostmanEdge> path{{0, 1, 2, true, true}, {1, 2, 3, true, true}};
  auto steps = *phases::service_steps(path, all_edges(path), PostmanMode::undirected);
  const auto m = phases::pair_odd_nodes(steps, 3, phases::deadhead_graph(3, path, phases::Directions::either_way), path, 20);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->method, "exact_matching");
  EXPECT_EQ(m->cost, 5);
  EXPECT_TRUE(phases::odd_nodes(steps, 3).empty());
  // Directed: a one-way 0 -> 1 with a way back 1 -> 2 -> 0 costs that way back.
  const std::vector<PostmanEdge> arcs{{0, 1, 1, true, false}, {1, 2, 4, true, false}, {2, 0, 6, true, false}};
  auto one = *phases::service_steps(arcs, {0}, PostmanMode::directed);
  const auto cost = phases::balance_by_flow(one, 3, phases::deadhead_graph(3, arcs, phases::Directions::as_given));
  ASSERT_TRUE(cost);
  EXPECT_EQ(*cost, 10);
  ASSERT_EQ(one.size(), 3u);
  PostmanResult r;
  phases::walk_circuit(r, one, 3, phases::start_node(one, [](std::uint32_t v) { return v == 2 ? 0.0 : 1.0; }), PostmanMode::directed, arcs);
  EXPECT_EQ(r.start, 2u);
  EXPECT_EQ(r.cost, 11);
  EXPECT_EQ(r.service_cost, 1);
  EXPECT_EQ(r.deadhead_cost, 10);
  check_walk(arcs, {0}, r, PostmanMode::directed);
}
