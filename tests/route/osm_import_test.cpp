// The OSM reader and the profiles' rules on tests/route/data/grid.osm (hand-written; see the map
// in its header): splitting at intersections, one-way (explicit, reversed, implied), access tags,
// turn restrictions (no_* and only_*), names, clipped ways, and routing on the result. No database.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "core/error.hpp"
#include "route/osm_import.hpp"

using namespace wangge::route;

namespace {

const std::string kGrid = std::string(WANGGE_ROUTE_TEST_DATA) + "/grid.osm";
const std::map<int, LonLat> N = {{1, {121.470, 31.230}}, {2, {121.472, 31.230}},   {3, {121.474, 31.230}}, {4, {121.470, 31.231}},
                                 {5, {121.472, 31.231}}, {6, {121.474, 31.231}},   {7, {121.470, 31.232}}, {8, {121.472, 31.232}},
                                 {9, {121.474, 31.232}}, {13, {121.476, 31.2305}}, {20, {121.500, 31.230}}};

const RoadNetwork& grid() {
  static const RoadNetwork net = read_osm_roads(kGrid);
  return net;
}

const Router& router() {
  static const Router r(streets_of(grid()), restrictions_of(grid()));
  return r;
}

LonLat mid(int a, int b) { return {(N.at(a).lon + N.at(b).lon) / 2, (N.at(a).lat + N.at(b).lat) / 2}; }
double d(int a, int b) { return distance_m(N.at(a), N.at(b)); }

// Distance of the fastest path between two points, or -1 when there is none.
double metres(Profile p, LonLat from, LonLat to) {
  const Graph& g = router().graph(p);
  auto a = g.snap(from, 50), b = g.snap(to, 50);
  EXPECT_TRUE(a && b);
  if (!a || !b) return -2;
  auto path = g.route(*a, *b);
  return path ? path->distance_m : -1;
}
double metres(Profile p, int a, int b) { return metres(p, N.at(a), N.at(b)); }

std::vector<const RoadEdge*> edges_of(long long way) {
  std::vector<const RoadEdge*> out;
  for (const auto& e : grid().edges)
    if (e.osm_id == way) out.push_back(&e);
  return out;
}

}  // namespace

TEST(OsmRead, SplitsAtIntersectionsAndKeepsRoutableWays) {
  const auto& net = grid();
  // 17 ways, 15 routable (not the construction road, not the pedestrian area); 103, 104, 105 pass
  // through an intersection (two pieces each), 140 is cut at its missing node.
  EXPECT_EQ(net.stats.ways, 17u);
  EXPECT_EQ(net.stats.routable_ways, 15u);
  EXPECT_EQ(net.edges.size(), 19u);
  EXPECT_EQ(net.stats.missing_nodes, 1u);
  ASSERT_EQ(edges_of(103).size(), 2u);
  EXPECT_EQ(edges_of(103)[0]->from_node, 1);
  EXPECT_EQ(edges_of(103)[0]->to_node, 4);
  EXPECT_EQ(edges_of(103)[1]->from_node, 4);
  EXPECT_EQ(edges_of(103)[1]->to_node, 7);
  EXPECT_EQ(edges_of(140).size(), 2u);
  EXPECT_TRUE(edges_of(130).empty());
  EXPECT_TRUE(edges_of(131).empty());
  ASSERT_EQ(edges_of(121).size(), 1u);  // a roundabout on its own: one closed piece
  EXPECT_EQ(edges_of(121)[0]->points.size(), 4u);
}

TEST(OsmRead, NamesAndRestrictions) {
  const auto& net = grid();
  ASSERT_EQ(edges_of(100).size(), 1u);
  EXPECT_EQ(edges_of(100)[0]->name, "南京东路");
  EXPECT_EQ(edges_of(100)[0]->name_zh, "南京东路");
  EXPECT_EQ(edges_of(104)[0]->highway, "tertiary");
  // 202 has a via way, 203 starts on a footway: only 200 and 201 are kept.
  ASSERT_EQ(net.restrictions.size(), 2u);
  EXPECT_EQ(net.stats.restrictions_skipped, 2u);
  EXPECT_FALSE(net.restrictions[0].only);
  EXPECT_EQ(net.restrictions[0].tag, "no_left_turn");
  EXPECT_EQ(net.restrictions[0].from_way, 100);
  EXPECT_EQ(net.restrictions[0].via_node, 2);
  EXPECT_EQ(net.restrictions[0].to_way, 104);
  EXPECT_TRUE(net.restrictions[1].only);
  EXPECT_EQ(router().restricted_turns(), 2u);
}

TEST(OsmRead, OneWayFlags) {
  const std::size_t foot = 0, ebike = 1, car = 2;
  const auto* e101 = edges_of(101).at(0);
  EXPECT_TRUE(e101->oneway);
  EXPECT_EQ(e101->access[car], kForward);
  EXPECT_EQ(e101->access[ebike], kForward | kBackward);  // oneway:bicycle=no
  EXPECT_EQ(e101->access[foot], kForward | kBackward);
  // oneway=-1: stored reversed, so forward is the traffic's direction (8 -> 7).
  const auto* e102 = edges_of(102).at(0);
  EXPECT_EQ(e102->from_node, 8);
  EXPECT_EQ(e102->to_node, 7);
  EXPECT_EQ(e102->access[car], kForward);
  EXPECT_EQ(e102->access[ebike], kForward);
  // Implied one-way: a motorway (and no walkers or e-bikes on it); a roundabout.
  const auto* e120 = edges_of(120).at(0);
  EXPECT_EQ(e120->access[car], kForward);
  EXPECT_EQ(e120->access[foot], 0);
  EXPECT_EQ(e120->access[ebike], 0);
  EXPECT_EQ(edges_of(121).at(0)->access[car], kForward);
  // access=private + foot=yes; a footway.
  EXPECT_EQ(edges_of(108).at(0)->access, (std::array<std::uint8_t, 3>{kForward | kBackward, 0, 0}));
  EXPECT_EQ(edges_of(109).at(0)->access, (std::array<std::uint8_t, 3>{kForward | kBackward, 0, 0}));
}

TEST(OsmRead, AccessTagRules) {
  auto rules = [](std::map<std::string, std::string> tags) {
    return way_rules([&tags](const char* k) -> const char* {
      auto it = tags.find(k);
      return it == tags.end() ? nullptr : it->second.c_str();
    });
  };
  EXPECT_FALSE(rules({{"highway", "construction"}}));
  EXPECT_FALSE(rules({{"building", "yes"}}));
  EXPECT_FALSE(rules({{"highway", "residential"}, {"access", "no"}}));  // nobody may use it
  auto fw = rules({{"highway", "footway"}, {"bicycle", "yes"}});        // a profile's own tag opens a class
  ASSERT_TRUE(fw);
  EXPECT_EQ(fw->access, (std::array<std::uint8_t, 3>{3, 3, 0}));
  auto ac = rules({{"highway", "footway"}, {"access", "yes"}});  // the general tag does not
  ASSERT_TRUE(ac);
  EXPECT_EQ(ac->access, (std::array<std::uint8_t, 3>{3, 0, 0}));
  auto mv = rules({{"highway", "residential"}, {"motor_vehicle", "no"}});
  ASSERT_TRUE(mv);
  EXPECT_EQ(mv->access, (std::array<std::uint8_t, 3>{3, 3, 0}));
  auto veh = rules({{"highway", "service"}, {"vehicle", "private"}, {"foot", "yes"}});
  ASSERT_TRUE(veh);
  EXPECT_EQ(veh->access, (std::array<std::uint8_t, 3>{3, 0, 0}));
  auto car_only = rules({{"highway", "tertiary"}, {"access", "private"}, {"motorcar", "yes"}});
  ASSERT_TRUE(car_only);
  EXPECT_EQ(car_only->access, (std::array<std::uint8_t, 3>{0, 0, 3}));
  auto link = rules({{"highway", "motorway_link"}, {"oneway", "no"}});  // explicit beats implied
  ASSERT_TRUE(link);
  EXPECT_FALSE(link->oneway);
  auto cf = rules({{"highway", "residential"}, {"oneway", "1"}, {"cycleway", "opposite_lane"}});
  ASSERT_TRUE(cf);
  EXPECT_EQ(cf->access, (std::array<std::uint8_t, 3>{3, 3, 1}));
}

TEST(OsmRoute, OneWayPerProfile) {
  // 4 -> 6 along the one-way row; back, cars go round by the top row (westbound only).
  EXPECT_NEAR(metres(Profile::car, 4, 6), d(4, 6), 0.01);
  EXPECT_NEAR(metres(Profile::car, 6, 4), d(6, 9) + d(9, 7) + d(7, 4), 0.01);
  EXPECT_NEAR(metres(Profile::ebike, 6, 4), d(6, 4), 0.01);  // oneway:bicycle=no
  EXPECT_NEAR(metres(Profile::foot, 6, 4), d(6, 4), 0.01);
  // Top row (oneway=-1): 9 -> 7 direct; 7 -> 9 round by the one-way middle row, for e-bikes too.
  EXPECT_NEAR(metres(Profile::car, 9, 7), d(9, 7), 0.01);
  EXPECT_NEAR(metres(Profile::car, 7, 9), d(7, 4) + d(4, 6) + d(6, 9), 0.01);
  EXPECT_NEAR(metres(Profile::ebike, 7, 9), d(7, 4) + d(4, 6) + d(6, 9), 0.01);
  EXPECT_NEAR(metres(Profile::foot, 7, 9), d(7, 9), 0.01);
}

TEST(OsmRoute, TurnRestrictionsForCarsOnly) {
  // no_left_turn 100 -> 104 at node 2: from mid 1-2 to mid 2-5 a car goes round by 1, 4, 5.
  const LonLat a = mid(1, 2), b = mid(2, 5);
  EXPECT_NEAR(metres(Profile::foot, a, b), d(1, 2) / 2 + d(2, 5) / 2, 0.01);
  EXPECT_NEAR(metres(Profile::ebike, a, b), d(1, 2) / 2 + d(2, 5) / 2, 0.01);
  EXPECT_NEAR(metres(Profile::car, a, b), d(1, 2) / 2 + d(1, 4) + d(4, 5) + d(2, 5) / 2, 0.01);
  // only_right_turn 110 -> 104 at node 2: from 3 a car may not go straight on to 1, nor turn
  // right and come back by a U-turn at 5 (cars turn round only at dead ends).
  EXPECT_NEAR(metres(Profile::foot, 3, 1), d(3, 1), 0.01);
  EXPECT_NEAR(metres(Profile::car, 3, 1), 2 * d(1, 2) + 2 * d(1, 4) + 2 * d(4, 7), 0.02);  // rows differ by mm
  // The geometry of the restricted car path really goes by node 4.
  const Graph& g = router().graph(Profile::car);
  auto path = g.route(*g.snap(a, 50), *g.snap(b, 50));
  ASSERT_TRUE(path);
  bool by4 = false;
  for (const auto& p : path->coordinates) by4 = by4 || p == N.at(4);
  EXPECT_TRUE(by4);
}

TEST(OsmRoute, CarsTurnRoundOnlyAtDeadEnds) {
  // A T: a two-way stem A - B with a dead end at A, B on a two-way cross street C - B - D.
  const LonLat A{120.000, 30.000}, B{120.000, 30.001}, C{119.999, 30.001}, D{120.001, 30.001};
  std::vector<Street> s;
  s.push_back({{A, B}, "residential", false});
  s.push_back({{C, B}, "residential", false});
  s.push_back({{B, D}, "residential", false});
  // No left turn from the stem into B - C (way 2) at B: OSM ids make it a restriction.
  s[0].osm_id = 1, s[0].from_node = 10, s[0].to_node = 11;
  s[1].osm_id = 2, s[1].from_node = 12, s[1].to_node = 11;
  s[2].osm_id = 3, s[2].from_node = 11, s[2].to_node = 13;
  Router r(s, {TurnRestriction{false, 1, 11, 2}});
  const Graph& car = r.graph(Profile::car);
  auto go = [&](LonLat a, LonLat b) { return car.route(*car.snap(a, 50), *car.snap(b, 50))->distance_m; };
  // From the stem to C: no left turn at B and no U-turn at a junction, so right to D's dead end,
  // round there, and back through B straight on to C.
  const LonLat stem{120.000, 30.0005};
  EXPECT_NEAR(go(stem, C), distance_m(stem, B) + 2 * distance_m(B, D) + distance_m(B, C), 0.01);
  // Walkers ignore it.
  const Graph& foot = r.graph(Profile::foot);
  EXPECT_NEAR(foot.route(*foot.snap(stem, 50), *foot.snap(C, 50))->distance_m, distance_m(stem, B) + distance_m(B, C), 0.01);
}

TEST(OsmRoute, ProfilesSnapAndUnreachable) {
  // Node 13 is reached only by a footway and a private service road with foot=yes.
  EXPECT_NEAR(metres(Profile::foot, 3, 13), d(3, 13), 0.01);
  const Graph& car = router().graph(Profile::car);
  auto s = car.snap(N.at(13), 500);
  ASSERT_TRUE(s);
  EXPECT_GT(s->distance_m, 100);  // snapped onto a street cars may use, not the footway
  EXPECT_FALSE(router().graph(Profile::ebike).snap(N.at(13), 50));
  // The island street: snapped to, but not reachable from the grid.
  EXPECT_EQ(metres(Profile::car, 1, 20), -1);
  EXPECT_EQ(metres(Profile::foot, 20, 1), -1);
}

TEST(OsmRead, BadFileIsAnInputError) {
  EXPECT_THROW(read_osm_roads(std::string(WANGGE_ROUTE_TEST_DATA) + "/missing.osm"), wangge::bad_request);
  const std::string broken = ::testing::TempDir() + "wangge_broken.osm";
  {
    std::FILE* f = std::fopen(broken.c_str(), "w");
    ASSERT_TRUE(f);
    std::fputs("<?xml version='1.0'?><osm version='0.6'><node id='1' lat='31' lon='121'><way", f);
    std::fclose(f);
  }
  EXPECT_THROW(read_osm_roads(broken), wangge::bad_request);
  std::remove(broken.c_str());
}
