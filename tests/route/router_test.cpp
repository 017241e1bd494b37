// The street graph on a tiny hand-made network: profiles and one-way, snapping mid-edge, unreachable.
//
// make(false): A - B - C along 30 N (residential, two-way) and an island D - E.
// make(true): the two-way way from A to C bends north through G (A - G - C, longer), and a one-way
// street runs C -> F -> A almost straight (one LineString of 3 points): the shorter way, but only
// with the traffic, except for walkers.
#include <gtest/gtest.h>

#include "route/router.hpp"

using namespace wangge::route;

namespace {

const LonLat A{120.000, 30.0}, B{120.010, 30.0}, C{120.020, 30.0}, F{120.010, 30.0001}, D{120.100, 30.0}, E{120.110, 30.0};

const LonLat G{120.010, 30.003};

Router make(bool with_oneway) {
  std::vector<Street> s;
  s.push_back({{A, with_oneway ? G : B}, "residential", false});
  s.push_back({{with_oneway ? G : B, C}, "residential", false});
  if (with_oneway) s.push_back({{C, F, A}, "residential", true});
  s.push_back({{D, E}, "residential", false});
  return Router(s);
}

Snap snap(const Graph& g, LonLat p) {
  auto s = g.snap(p, Router::kMaxSnapM);
  EXPECT_TRUE(s.has_value());
  return *s;
}

}  // namespace

TEST(Router, DistanceMatchesEllipsoid) {
  // 0.01 degree of longitude at 30 N on CGCS2000: 964.85 m (geodesic).
  EXPECT_NEAR(distance_m(A, B), 964.85, 0.05);
}

TEST(Router, SnapsMidEdgeNotToNode) {
  Router r = make(false);
  const Graph& g = r.graph(Profile::foot);
  auto s = g.snap({120.0025, 30.0003}, 500);  // ~33 m north of a quarter of A-B
  ASSERT_TRUE(s);
  EXPECT_EQ(s->edge, 0u);
  EXPECT_NEAR(s->offset_m, distance_m(A, B) / 4, 0.5);
  EXPECT_NEAR(s->point.lon, 120.0025, 1e-9);
  EXPECT_NEAR(s->point.lat, 30.0, 1e-9);
  EXPECT_NEAR(s->distance_m, 33.3, 0.5);
  EXPECT_FALSE(g.snap({120.05, 30.02}, 500));  // over 2 km from every street
}

TEST(Router, PartialEdgesInGeometryAndCost) {
  Router r = make(false);
  const Graph& g = r.graph(Profile::foot);
  auto p = g.route(snap(g, {120.005, 30.0}), snap(g, {120.015, 30.0}));
  ASSERT_TRUE(p);
  EXPECT_NEAR(p->distance_m, distance_m(A, B), 0.01);
  EXPECT_NEAR(p->duration_s, p->distance_m / (5 / 3.6), 1e-6);
  ASSERT_EQ(p->coordinates.size(), 3u);
  EXPECT_NEAR(p->coordinates.front().lon, 120.005, 1e-9);
  EXPECT_EQ(p->coordinates[1], B);
  EXPECT_NEAR(p->coordinates.back().lon, 120.015, 1e-9);
  // Both on one edge, backwards: straight along it.
  auto q = g.route(snap(g, {120.008, 30.0}), snap(g, {120.002, 30.0}));
  ASSERT_TRUE(q);
  EXPECT_NEAR(q->distance_m, 0.6 * distance_m(A, B), 0.01);
  EXPECT_EQ(q->coordinates.size(), 2u);
}

TEST(Router, OneWayObeyedByEbikeIgnoredByFoot) {
  Router r = make(true);
  const double oneway_len = distance_m(C, F) + distance_m(F, A);
  const double street_len = distance_m(A, G) + distance_m(G, C);
  ASSERT_GT(street_len, oneway_len);  // the one-way is the shorter way
  // From near C to near A: with the traffic, everyone may take the one-way.
  for (Profile p : kProfiles) {
    const Graph& g = r.graph(p);
    auto path = g.route(snap(g, C), snap(g, A));
    ASSERT_TRUE(path) << profile_name(p);
    EXPECT_NEAR(path->distance_m, oneway_len, 0.01) << profile_name(p);
  }
  // From A to C: against the one-way. The walker takes it, the e-bike and the car go round.
  const Graph& foot = r.graph(Profile::foot);
  auto walk = foot.route(Snap{0, 0, 0, A}, Snap{1, distance_m(G, C), 0, C});
  ASSERT_TRUE(walk);
  EXPECT_NEAR(walk->distance_m, oneway_len, 0.01);
  EXPECT_EQ(walk->coordinates.size(), 3u);  // A, F, C
  for (Profile p : {Profile::ebike, Profile::car}) {
    const Graph& g = r.graph(p);
    auto ride = g.route(Snap{0, 0, 0, A}, Snap{1, distance_m(G, C), 0, C});
    ASSERT_TRUE(ride) << profile_name(p);
    EXPECT_NEAR(ride->distance_m, street_len, 0.01) << profile_name(p);
  }
  EXPECT_NEAR(r.graph(Profile::ebike).route(Snap{0, 0, 0, A}, Snap{1, distance_m(G, C), 0, C})->duration_s, street_len / (15 / 3.6), 1e-6);
  // On the one-way itself, against its direction: a vehicle must loop round through A, G and C.
  const Graph& bike = r.graph(Profile::ebike);
  const double mid = distance_m(C, F);  // at F
  auto loop = bike.route(Snap{2, mid + 10, 0, {}}, Snap{2, mid - 10, 0, {}});
  ASSERT_TRUE(loop);
  EXPECT_NEAR(loop->distance_m, (oneway_len - mid - 10) + street_len + (mid - 10), 0.01);
  auto walk_back = foot.route(Snap{2, mid + 10, 0, {}}, Snap{2, mid - 10, 0, {}});
  ASSERT_TRUE(walk_back);
  EXPECT_NEAR(walk_back->distance_m, 20, 0.01);
}

TEST(Router, UnreachableIsReportedNotThrown) {
  Router r = make(false);
  for (Profile p : kProfiles) {
    const Graph& g = r.graph(p);
    EXPECT_FALSE(g.route(snap(g, A), snap(g, D))) << profile_name(p);
    auto costs = g.costs(snap(g, A), {snap(g, C), snap(g, E), std::nullopt});
    ASSERT_EQ(costs.size(), 3u);
    EXPECT_TRUE(costs[0]);
    EXPECT_FALSE(costs[1]);
    EXPECT_FALSE(costs[2]);
  }
}

TEST(Router, CarSpeedsByClassAndEmptyNetwork) {
  EXPECT_EQ(speed_kmh(Profile::car, "residential"), 30);
  EXPECT_EQ(speed_kmh(Profile::car, "primary"), 50);
  EXPECT_EQ(speed_kmh(Profile::car, "secondary"), 50);
  EXPECT_EQ(speed_kmh(Profile::car, "footway"), 0);
  EXPECT_EQ(speed_kmh(Profile::foot, "primary"), 5);
  Router empty(std::vector<Street>{});
  EXPECT_FALSE(empty.graph(Profile::foot).snap(A, 500));
}
