// The index on hand-made cases (shared edge, shared vertex, hole, island, gap, outside), and the
// layer against a brute-force exact point-in-polygon test on random polygons, with points on
// vertices and edges.
#include <gtest/gtest.h>

#include <random>

#include "locate/index.hpp"
#include "locate/layer.hpp"
#include "locate/predicates.hpp"

using namespace wangge::locate;

namespace {

constexpr double X = 120.0, Y = 30.0, U = 0.001;  // a unit of about 100 m

std::shared_ptr<const SourceArea> area(std::string code, Level level, std::string parent, std::vector<std::vector<Pt>> rings,
                                       std::string name = {}) {
  auto a = std::make_shared<SourceArea>();
  a->code = std::move(code);
  a->name = name.empty() ? "area " + a->code : std::move(name);
  a->parent = std::move(parent);
  a->level = level;
  for (auto& r : rings) {
    for (auto& p : r) a->vertices.push_back(p);
    a->ring_ends.push_back(static_cast<std::uint32_t>(a->vertices.size()));
  }
  return a;
}

// The square [x0,x1]x[y0,y1] in units from (X, Y).
std::vector<Pt> box(double x0, double y0, double x1, double y1) {
  return {{X + x0 * U, Y + y0 * U}, {X + x1 * U, Y + y0 * U}, {X + x1 * U, Y + y1 * U}, {X + x0 * U, Y + y1 * U}, {X + x0 * U, Y + y0 * U}};
}
Pt at(double x, double y) { return {X + x * U, Y + y * U}; }

// County 100 x 100 units; one village 0..10 x 0..10; grids:
//   g1 [0,2]x[0,2], g2 [2,4]x[0,2] (shared edge x=2), g3 [0,2]x[2,4], g4 [2,4]x[2,4] (shared vertex 2,2),
//   g5 [5,9]x[0,4] with a hole [6,8]x[1,3], g6 = islands [0,1]x[5,6] and [3,4]x[5,6],
//   a gap between g2 (x<=4) and g5 (x>=5): 1 unit ~ 96 m wide.
// Micro-grids of g1: m1 [0,1]x[0,2], m2 [1,2]x[0,2]. Areas are added in scrambled order.
Sources sample() {
  Sources s;
  s.push_back(area("330521001001005", Level::grid, "330521001001", {box(5, 0, 9, 4), box(6, 1, 8, 3)}));
  s.push_back(area("330521001001002", Level::grid, "330521001001", {box(2, 0, 4, 2)}));
  s.push_back(area("330521", Level::county, "", {box(0, 0, 100, 100)}, "德清县"));
  s.push_back(area("330521001001004", Level::grid, "330521001001", {box(2, 2, 4, 4)}));
  s.push_back(area("33052100100100102", Level::microgrid, "330521001001001", {box(1, 0, 2, 2)}));
  s.push_back(area("330521001001001", Level::grid, "330521001001", {box(0, 0, 2, 2)}));
  s.push_back(area("330521001001003", Level::grid, "330521001001", {box(0, 2, 2, 4)}));
  s.push_back(area("330521001001006", Level::grid, "330521001001", {box(0, 5, 1, 6), box(3, 5, 4, 6)}));
  s.push_back(area("33052100100100101", Level::microgrid, "330521001001001", {box(0, 0, 1, 2)}));
  s.push_back(area("330521001", Level::township, "330521", {box(0, 0, 50, 50)}));
  s.push_back(area("330521001001", Level::village, "330521001", {box(0, 0, 10, 10)}));
  return s;
}

struct Answer {
  Method method;
  std::string grid, micro, admin;
  double distance = 0;
};

Answer ask(const LocateIndex& idx, Pt p) {
  const Location l = idx.locate(p);
  Answer a{l.method, l.grid >= 0 ? idx.area(l.grid).code : "", l.microgrid >= 0 ? idx.area(l.microgrid).code : "",
           l.admin >= 0 ? idx.area(l.admin).code : "", l.distance_m};
  return a;
}

class HandMade : public ::testing::TestWithParam<double> {
 protected:
  void SetUp() override {
    Options o;
    o.cells_per_edge = GetParam();
    index = LocateIndex::build(sample(), o);
  }
  std::shared_ptr<const LocateIndex> index;
};

}  // namespace

TEST_P(HandMade, Inside) {
  auto a = ask(*index, at(0.5, 0.5));
  EXPECT_EQ(a.method, Method::inside);
  EXPECT_EQ(a.grid, "330521001001001");
  EXPECT_EQ(a.micro, "33052100100100101");
  a = ask(*index, at(3, 1));
  EXPECT_EQ(a.method, Method::inside);
  EXPECT_EQ(a.grid, "330521001001002");
  EXPECT_EQ(a.micro, "");
}

TEST_P(HandMade, SharedEdgeGoesToTheSmallestCode) {
  auto a = ask(*index, at(2, 1));
  EXPECT_EQ(a.method, Method::boundary);
  EXPECT_EQ(a.grid, "330521001001001");
  // The micro-grid boundary inside g1: the smaller micro-grid code.
  a = ask(*index, at(1, 1));
  EXPECT_EQ(a.method, Method::inside);
  EXPECT_EQ(a.micro, "33052100100100101");
  // Just off the edge, on either side, the point is inside.
  EXPECT_EQ(ask(*index, {X + 2 * U + 1e-12, Y + U}).grid, "330521001001002");
  EXPECT_EQ(ask(*index, {X + 2 * U - 1e-12, Y + U}).grid, "330521001001001");
}

TEST_P(HandMade, SharedVertex) {
  auto a = ask(*index, at(2, 2));
  EXPECT_EQ(a.method, Method::boundary);
  EXPECT_EQ(a.grid, "330521001001001");
  a = ask(*index, {X + 2 * U + 1e-12, Y + 2 * U + 1e-12});
  EXPECT_EQ(a.method, Method::inside);
  EXPECT_EQ(a.grid, "330521001001004");
}

TEST_P(HandMade, HoleIsNotPartOfTheGrid) {
  EXPECT_EQ(ask(*index, at(5.5, 2)).grid, "330521001001005");
  auto a = ask(*index, at(7, 2));  // centre of the hole, 96 m from its edges
  EXPECT_EQ(a.method, Method::fallback);
  EXPECT_EQ(a.admin, "330521001001");
  a = ask(*index, at(6, 2));  // on the hole's boundary
  EXPECT_EQ(a.method, Method::boundary);
  EXPECT_EQ(a.grid, "330521001001005");
  a = ask(*index, at(6.3, 2));  // in the hole, ~29 m from its edge
  EXPECT_EQ(a.method, Method::nearest);
  EXPECT_EQ(a.grid, "330521001001005");
  EXPECT_NEAR(a.distance, 0.3 * U * 96.5e3, 1.0);
}

TEST_P(HandMade, IslandsOfOneGrid) {
  EXPECT_EQ(ask(*index, at(0.5, 5.5)).grid, "330521001001006");
  EXPECT_EQ(ask(*index, at(3.5, 5.5)).grid, "330521001001006");
  EXPECT_EQ(ask(*index, at(2, 5.5)).method, Method::fallback);  // between the islands, ~96 m away
}

TEST_P(HandMade, GapNearestThenFallback) {
  auto a = ask(*index, at(4.2, 1));  // ~19 m from g2, ~77 m from g5
  EXPECT_EQ(a.method, Method::nearest);
  EXPECT_EQ(a.grid, "330521001001002");
  EXPECT_NEAR(a.distance, 0.2 * U * 96.5e3, 0.5);
  a = ask(*index, at(4.8, 1));
  EXPECT_EQ(a.method, Method::nearest);
  EXPECT_EQ(a.grid, "330521001001005");
  a = ask(*index, at(20, 20));  // in the township, not in the village
  EXPECT_EQ(a.method, Method::fallback);
  EXPECT_EQ(a.admin, "330521001");
  a = ask(*index, at(70, 70));
  EXPECT_EQ(a.method, Method::fallback);
  EXPECT_EQ(a.admin, "330521");
}

TEST_P(HandMade, Outside) {
  EXPECT_EQ(ask(*index, at(-1, 5)).method, Method::outside);
  EXPECT_EQ(ask(*index, at(101, 5)).method, Method::outside);
  EXPECT_EQ(ask(*index, {0, 0}).method, Method::outside);
  // A point on the county's outer boundary is covered by it (ST_Covers is closed).
  EXPECT_EQ(ask(*index, at(100, 50)).method, Method::fallback);
}

TEST_P(HandMade, AnswerDoesNotDependOnLoadOrder) {
  Sources s = sample();
  std::reverse(s.begin(), s.end());
  auto other = LocateIndex::build(s, index->options());
  for (Pt p : {at(2, 1), at(2, 2), at(1, 1), at(4.2, 1)}) {
    EXPECT_EQ(ask(*index, p).grid, ask(*other, p).grid);
    EXPECT_EQ(ask(*index, p).micro, ask(*other, p).micro);
  }
}

TEST_P(HandMade, JsonAnswer) {
  WorkerDirectory::Builder b;
  b.add("330521001001001", 7, "王小明");
  const WorkerDirectory w = std::move(b).build();
  std::string out;
  index->append_json(index->locate(at(0.5, 0.5)), at(0.5, 0.5), &w, out);
  EXPECT_NE(out.find("\"grid\":{\"code\":\"330521001001001\",\"name\":\"area 330521001001001\"}"), std::string::npos) << out;
  EXPECT_NE(out.find("\"hierarchy\":[{\"level\":\"county\",\"code\":\"330521\",\"name\":\"德清县\"},"), std::string::npos) << out;
  EXPECT_NE(out.find("\"workers\":[{\"id\":7,\"name\":\"王小明\",\"area\":\"330521001001001\"}]"), std::string::npos) << out;
  EXPECT_NE(out.find("\"method\":\"inside\",\"distance_m\":null}"), std::string::npos) << out;
}

// Coarse and fine cells: the answers must not depend on the resolution.
INSTANTIATE_TEST_SUITE_P(Resolutions, HandMade, ::testing::Values(0.05, 1.0, 8.0));

namespace {

// The reference: the even-odd rule over every edge with the exact predicate, no index.
int brute(const std::vector<Pt>& v, const std::vector<std::uint32_t>& ends, Pt p) {  // 0 out, 1 in, 2 boundary
  bool in = false;
  std::uint32_t start = 0;
  for (std::uint32_t end : ends) {
    for (std::uint32_t i = start; i < end; ++i) {
      const Pt a = v[i], b = v[i + 1 < end ? i + 1 : start];
      if (on_segment(a, b, p)) return 2;
      if ((a.y > p.y) != (b.y > p.y) && (b.y > a.y) == (orient(a, b, p) > 0)) in = !in;
    }
    start = end;
  }
  return in ? 1 : 0;
}

}  // namespace

TEST(Layer, MatchesBruteForceOnRandomPolygons) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0, 1);
  struct Poly {
    std::vector<Pt> v;
    std::vector<std::uint32_t> ends;
  };
  std::vector<Poly> polys;
  for (int k = 0; k < 60; ++k) {
    Poly p;
    const int rings = 1 + static_cast<int>(u(rng) * 3);
    for (int r = 0; r < rings; ++r) {
      // A star-shaped ring, sometimes with vertices on a coarse lattice so edges are axis-parallel
      // and vertices coincide with other polygons' vertices.
      const double cx = 120 + u(rng) * 0.05, cy = 30 + u(rng) * 0.05, rad = 0.002 + u(rng) * 0.01;
      const int n = 3 + static_cast<int>(u(rng) * 12);
      const bool lattice = u(rng) < 0.5;
      for (int i = 0; i < n; ++i) {
        const double ang = 2 * 3.141592653589793 * (i + u(rng) * 0.8) / n, rr = rad * (0.3 + u(rng));
        double x = cx + rr * std::cos(ang), y = cy + rr * std::sin(ang);
        if (lattice) x = std::round(x * 1000) / 1000, y = std::round(y * 1000) / 1000;
        p.v.push_back({x, y});
      }
      p.ends.push_back(static_cast<std::uint32_t>(p.v.size()));
    }
    polys.push_back(std::move(p));
  }
  for (double cpe : {0.1, 1.0, 5.0}) {
    Layer::Builder b;
    for (std::size_t k = 0; k < polys.size(); ++k) b.add(static_cast<std::uint32_t>(k), 0, polys[k].v, polys[k].ends);
    Layer layer = std::move(b).build(cpe);
    std::vector<Pt> probes;
    for (int i = 0; i < 20000; ++i) probes.push_back({120 - 0.01 + u(rng) * 0.08, 30 - 0.01 + u(rng) * 0.08});
    for (int i = 0; i < 3000; ++i)
      probes.push_back({std::round((120 + u(rng) * 0.06) * 1000) / 1000, std::round((30 + u(rng) * 0.06) * 1000) / 1000});
    for (const auto& p : polys)
      for (std::size_t i = 0; i < p.v.size(); ++i) {
        probes.push_back(p.v[i]);
        const Pt n = p.v[(i + 1) % p.v.size()];
        probes.push_back({(p.v[i].x + n.x) / 2, (p.v[i].y + n.y) / 2});
      }
    std::size_t mismatches = 0, boundary = 0;
    for (const Pt& q : probes) {
      std::vector<int> got(polys.size(), 0);
      layer.covering(q, [&](std::uint32_t id, unsigned, bool on) { got[id] = on ? 2 : 1; });
      for (std::size_t k = 0; k < polys.size(); ++k) {
        const int want = brute(polys[k].v, polys[k].ends, q);
        boundary += want == 2;
        if (got[k] != want) ++mismatches;
      }
    }
    EXPECT_EQ(mismatches, 0u) << "cells per edge " << cpe;
    EXPECT_GT(boundary, 100u);  // the probes do exercise the boundary cases
  }
}

TEST(Predicates, ExactWhereFloatingPointIsNot) {
  // Points a hair off a long line: the naive determinant rounds to zero or the wrong sign.
  const Pt a{120.123456789, 30.987654321}, b{121.987654321, 30.123456789};
  const double t = 0.3;
  const Pt on{a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)};
  const Pt up{on.x, std::nextafter(on.y, 100.0)}, down{on.x, std::nextafter(on.y, 0.0)};
  const int su = orient(a, b, up), sd = orient(a, b, down);
  EXPECT_EQ(su, 1);
  EXPECT_EQ(sd, -1);
  EXPECT_EQ(orient({0, 0}, {1, 1}, {0.5, 0.5}), 0);
  EXPECT_EQ(orient({0.1, 0.1}, {0.3, 0.3}, {0.2, 0.2}), orient({0.3, 0.3}, {0.1, 0.1}, {0.2, 0.2}) * -1);
}
