#include <gtest/gtest.h>

#include <protozero/pbf_reader.hpp>
#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "tiles/mvt.hpp"
#include "tiles/tile_math.hpp"
#include "tiles/topology.hpp"

using namespace wangge::tiles;

namespace {

// A wiggly shared border between (0,0) and (0,100): every vertex on it is shared by both squares.
Ring left_square() {
  Ring r{{0, 0}};
  for (int i = 1; i < 100; ++i) r.push_back({(i % 2) * 1.5, static_cast<double>(i)});
  r.push_back({0, 100});
  r.push_back({-100, 100});
  r.push_back({-100, 0});
  r.push_back({0, 0});
  return r;
}

Ring right_square() {
  Ring r{{0, 0}, {100, 0}, {100, 100}, {0, 100}};
  for (int i = 99; i >= 1; --i) r.push_back({(i % 2) * 1.5, static_cast<double>(i)});
  r.push_back({0, 0});
  return r;
}

std::set<std::pair<double, double>> border_points(const MultiPolygon& mp) {
  std::set<std::pair<double, double>> out;
  for (const auto& poly : mp)
    for (const auto& ring : poly)
      for (const auto& p : ring)
        if (p.x > -0.5 && p.x < 2) out.insert({p.x, p.y});
  return out;
}

}  // namespace

TEST(Topology, SharedBorderIsOneArcAndSimplifiesIdentically) {
  std::vector<MultiPolygon> layer{MultiPolygon{Polygon{left_square()}}, MultiPolygon{Polygon{right_square()}}};
  auto topo = Topology::build(layer);
  ASSERT_EQ(topo.size(), 2u);
  // left outer part, right outer part, and the one shared border
  EXPECT_EQ(topo.arc_count(), 3u);
  for (double tol : {0.0, 1.0, 10.0, 50.0}) {
    auto a = topo.render(0, tol);
    auto b = topo.render(1, tol);
    ASSERT_EQ(a.size(), 1u);
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(border_points(a), border_points(b)) << "tolerance " << tol;
  }
  EXPECT_GT(border_points(topo.render(0, 0)).size(), 90u);
  EXPECT_LE(border_points(topo.render(0, 10)).size(), 2u);  // the wiggle is gone, the corners stay
  EXPECT_TRUE(topo.render(0, 1000).empty());                // smaller than the tolerance: left out at that zoom
}

TEST(Topology, HoleFilledByAnotherFeatureSharesItsLoop) {
  Ring outer{{0, 0}, {10, 0}, {10, 10}, {0, 10}, {0, 0}};
  Ring hole{{3, 3}, {3, 7}, {7, 7}, {7, 3}, {3, 3}};
  Ring inner{{3, 3}, {7, 3}, {7, 7}, {3, 7}, {3, 3}};
  std::vector<MultiPolygon> layer{MultiPolygon{Polygon{outer, hole}}, MultiPolygon{Polygon{inner}}};
  auto topo = Topology::build(layer);
  EXPECT_EQ(topo.arc_count(), 2u);
  EXPECT_EQ(topo.render(0, 0)[0].size(), 2u);
}

namespace {

// ---- Patching a topology: a lattice of cells whose shared borders wiggle ----

// An n x n partition: corners on a jittered lattice, every cell edge with 4 points between its
// corners that both neighbours share. Cells are features i * n + j; extra features may follow.
struct Lattice {
  int n;
  static constexpr int kMid = 4;
  std::vector<Point> corners;                  // (n+1)^2
  std::vector<std::vector<Point>> horizontal;  // edge (i,j)-(i+1,j): index i * (n+1) + j
  std::vector<std::vector<Point>> vertical;    // edge (i,j)-(i,j+1): index i * (n+1) + j
  std::mt19937 rng{12345};

  explicit Lattice(int size) : n(size) {
    std::uniform_real_distribution<double> jitter(-2, 2);
    for (int i = 0; i <= n; ++i)
      for (int j = 0; j <= n; ++j) corners.push_back({i * 10.0 + (i % n ? jitter(rng) : 0), j * 10.0 + (j % n ? jitter(rng) : 0)});
    horizontal.resize((n + 1) * (n + 1));
    vertical.resize((n + 1) * (n + 1));
    for (int i = 0; i <= n; ++i)
      for (int j = 0; j <= n; ++j) {
        if (i < n) horizontal[i * (n + 1) + j] = between(corner(i, j), corner(i + 1, j));
        if (j < n) vertical[i * (n + 1) + j] = between(corner(i, j), corner(i, j + 1));
      }
  }
  const Point& corner(int i, int j) const { return corners[i * (n + 1) + j]; }
  std::vector<Point> between(const Point& a, const Point& b) {
    std::uniform_real_distribution<double> wiggle(-1.5, 1.5);
    std::vector<Point> out;
    for (int k = 1; k <= kMid; ++k) {
      double t = k / (kMid + 1.0);
      out.push_back({a.x + t * (b.x - a.x) + wiggle(rng), a.y + t * (b.y - a.y) + wiggle(rng)});
    }
    return out;
  }
  std::vector<Point>& h(int i, int j) { return horizontal[i * (n + 1) + j]; }
  std::vector<Point>& v(int i, int j) { return vertical[i * (n + 1) + j]; }
  // Cell (i, j) counter-clockwise from its south-west corner.
  Ring cell(int i, int j) {
    Ring r{corner(i, j)};
    for (const auto& p : h(i, j)) r.push_back(p);
    r.push_back(corner(i + 1, j));
    for (const auto& p : v(i + 1, j)) r.push_back(p);
    r.push_back(corner(i + 1, j + 1));
    for (auto it = h(i, j + 1).rbegin(); it != h(i, j + 1).rend(); ++it) r.push_back(*it);
    r.push_back(corner(i, j + 1));
    for (auto it = v(i, j).rbegin(); it != v(i, j).rend(); ++it) r.push_back(*it);
    r.push_back(corner(i, j));
    return r;
  }
  std::vector<MultiPolygon> features() {
    std::vector<MultiPolygon> out;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) out.push_back(MultiPolygon{Polygon{cell(i, j)}});
    return out;
  }
  int id(int i, int j) const { return i * n + j; }
};

Topology::Nearby brute_force(const Topology& topo) {
  return [&topo](const Box& box, std::vector<std::size_t>& out) {
    for (std::size_t f = 0; f < topo.size(); ++f)
      if (!topo.empty(f) && topo.bbox(f).intersects(box)) out.push_back(f);
  };
}

const double kTolerances[] = {0.0, 0.3, 1.0, 2.5, 6.0, 20.0};

// The patched topology renders every feature exactly as a full build of the same shapes does, its
// shared borders are as few arcs as the full build's (so each is one arc object), and features
// neither changed nor re-cut render exactly as before.
void expect_like_full_build(const Topology& before, const Topology& patched, const std::vector<MultiPolygon>& shapes,
                            const std::set<std::size_t>& changed, const std::vector<std::size_t>& recut) {
  const Topology full = Topology::build(shapes);
  ASSERT_EQ(patched.size(), full.size());
  for (std::size_t f = 0; f < full.size(); ++f)
    for (double t : kTolerances) ASSERT_EQ(patched.render(f, t), full.render(f, t)) << "feature " << f << " at tolerance " << t;
  EXPECT_EQ(patched.used_arc_count(), full.arc_count());
  const std::set<std::size_t> cut(recut.begin(), recut.end());
  for (std::size_t f = 0; f < before.size(); ++f) {
    if (changed.count(f) || cut.count(f)) continue;
    for (double t : kTolerances) ASSERT_EQ(patched.render(f, t), before.render(f, t)) << "unaffected feature " << f << " changed";
  }
  for (std::size_t f : recut) EXPECT_FALSE(changed.count(f)) << "a changed feature is reported re-cut";
}

Topology patch(const Topology& topo, std::vector<MultiPolygon>& shapes, const std::map<std::size_t, MultiPolygon>& edits,
               std::vector<std::size_t>& recut) {
  std::vector<Topology::Change> changes;
  for (const auto& [f, mp] : edits) {
    changes.push_back({f, mp});
    if (f >= shapes.size()) shapes.resize(f + 1);
    shapes[f] = mp;
  }
  return topo.patch(changes, brute_force(topo), recut);
}

}  // namespace

TEST(TopologyPatch, RedrawMovingASharedBorderMatchesAFullBuild) {
  Lattice lat(5);
  auto shapes = lat.features();
  const Topology topo = Topology::build(shapes);
  // Cells (1,1) and (2,1) share the vertical edge at i = 2: bulge it east, so both are redrawn.
  for (auto& p : lat.v(2, 1)) p.x += 3;
  std::vector<std::size_t> recut;
  const Topology next =
      patch(topo, shapes, {{std::size_t(lat.id(1, 1)), {{lat.cell(1, 1)}}}, {std::size_t(lat.id(2, 1)), {{lat.cell(2, 1)}}}}, recut);
  expect_like_full_build(topo, next, shapes, {std::size_t(lat.id(1, 1)), std::size_t(lat.id(2, 1))}, recut);
  EXPECT_TRUE(recut.empty()) << "no junction moved, so no neighbour is re-cut";
  // Moving a corner changes the four cells around it.
  lat.corners[2 * 6 + 2].x += 1.2;
  lat.corners[2 * 6 + 2].y -= 0.7;
  std::map<std::size_t, MultiPolygon> edits;
  for (auto [i, j] : {std::pair{1, 1}, {1, 2}, {2, 1}, {2, 2}}) edits[lat.id(i, j)] = {{lat.cell(i, j)}};
  const Topology third = patch(next, shapes, edits, recut);
  expect_like_full_build(next, third, shapes, {6, 7, 11, 12}, recut);
}

TEST(TopologyPatch, SplitAndMergeRecutTheNeighboursWhereJunctionsComeAndGo) {
  Lattice lat(4);
  auto shapes = lat.features();
  const Topology topo = Topology::build(shapes);
  // Split cell (1,1) from the 2nd point of its south edge to the 2nd point of its north edge: those
  // become junctions in the rings of the cells south and north of it, which must be cut there too.
  const Point south = lat.h(1, 1)[1], north = lat.h(1, 2)[1];
  const Point mid1{(2 * south.x + north.x) / 3 + 0.4, (2 * south.y + north.y) / 3};
  const Point mid2{(south.x + 2 * north.x) / 3 - 0.3, (south.y + 2 * north.y) / 3};
  Ring west{lat.corner(1, 1), lat.h(1, 1)[0], south, mid1, mid2, north, lat.h(1, 2)[0], lat.corner(1, 2)};
  for (auto it = lat.v(1, 1).rbegin(); it != lat.v(1, 1).rend(); ++it) west.push_back(*it);
  west.push_back(lat.corner(1, 1));
  Ring east{south, lat.h(1, 1)[2], lat.h(1, 1)[3], lat.corner(2, 1)};
  for (const auto& p : lat.v(2, 1)) east.push_back(p);
  east.push_back(lat.corner(2, 2));
  east.push_back(lat.h(1, 2)[3]);
  east.push_back(lat.h(1, 2)[2]);
  east.push_back(north);
  east.push_back(mid2);
  east.push_back(mid1);
  east.push_back(south);
  const std::size_t cell = lat.id(1, 1), added = shapes.size();
  std::vector<std::size_t> recut;
  const Topology split = patch(topo, shapes, {{cell, {{west}}}, {added, {{east}}}}, recut);
  expect_like_full_build(topo, split, shapes, {cell, added}, recut);
  EXPECT_EQ(std::set<std::size_t>(recut.begin(), recut.end()),
            (std::set<std::size_t>{std::size_t(lat.id(1, 0)), std::size_t(lat.id(1, 2))}));
  // Merge back: the added piece goes, the cell is whole again, the junctions go with the split line.
  const Topology merged = patch(split, shapes, {{cell, {{lat.cell(1, 1)}}}, {added, {}}}, recut);
  expect_like_full_build(split, merged, shapes, {cell, added}, recut);
  EXPECT_EQ(recut.size(), 2u);
  EXPECT_TRUE(merged.empty(added));
  EXPECT_TRUE(merged.render(added, 0).empty());
  for (std::size_t f = 0; f < topo.size(); ++f)
    for (double t : kTolerances) ASSERT_EQ(merged.render(f, t), topo.render(f, t)) << "feature " << f;
}

TEST(TopologyPatch, RemovingAnIslandTurnsTheHoleIntoALoopAndBack) {
  Ring outer{{0, 0}, {10, 0}, {10, 10}, {0, 10}, {0, 0}};
  Ring hole{{3, 3}, {3, 5}, {3, 7}, {7, 7}, {7, 3}, {3, 3}};
  Ring island{{3, 3}, {7, 3}, {7, 7}, {3, 7}, {3, 5}, {3, 3}};
  Ring half{{3, 3}, {7, 3}, {7, 7}, {3, 7}, {3, 3}};
  std::vector<MultiPolygon> shapes{MultiPolygon{Polygon{outer, hole}}, MultiPolygon{Polygon{island}}};
  const Topology topo = Topology::build(shapes);
  std::vector<std::size_t> recut;
  const Topology gone = patch(topo, shapes, {{1, {}}}, recut);
  expect_like_full_build(topo, gone, shapes, {1}, recut);
  const Topology back = patch(gone, shapes, {{1, {{half}}}}, recut);  // (3,5) is now only the hole's
  expect_like_full_build(gone, back, shapes, {1}, recut);
  EXPECT_EQ(recut, (std::vector<std::size_t>{0}));
}

TEST(TopologyPatch, RandomEditsInSequenceStayLikeAFullBuild) {
  Lattice lat(6);
  auto shapes = lat.features();
  Topology topo = Topology::build(shapes);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> pick(1, lat.n - 1), mid(0, Lattice::kMid - 1), kind(0, 3);
  std::uniform_real_distribution<double> nudge(-0.8, 0.8);
  for (int step = 0; step < 60; ++step) {
    const int i = pick(rng), j = pick(rng);
    std::map<std::size_t, MultiPolygon> edits;
    switch (kind(rng)) {
      case 0: {  // a shared vertex of a vertical border moves: both sides are redrawn
        auto& p = lat.v(i, j)[mid(rng)];
        p.x += nudge(rng), p.y += nudge(rng);
        edits[lat.id(i - 1, j)] = {{lat.cell(i - 1, j)}};
        edits[lat.id(i, j)] = {{lat.cell(i, j)}};
        break;
      }
      case 1: {  // a corner moves: four cells
        auto& c = lat.corners[i * (lat.n + 1) + j];
        c.x += nudge(rng), c.y += nudge(rng);
        for (int di = -1; di <= 0; ++di)
          for (int dj = -1; dj <= 0; ++dj) edits[lat.id(i + di, j + dj)] = {{lat.cell(i + di, j + dj)}};
        break;
      }
      case 2: {  // one cell redrawn alone (its neighbour keeps the old border: not a partition)
        Ring r = lat.cell(i, j);
        r[1 + mid(rng)].x += nudge(rng);
        edits[lat.id(i, j)] = {{r}};
        break;
      }
      default: {  // a cell leaves, or comes back
        const std::size_t f = lat.id(i, j);
        edits[f] = shapes[f].empty() ? MultiPolygon{{lat.cell(i, j)}} : MultiPolygon{};
      }
    }
    std::vector<std::size_t> recut;
    std::set<std::size_t> changed;
    for (const auto& [f, mp] : edits) changed.insert(f);
    Topology next = patch(topo, shapes, edits, recut);
    expect_like_full_build(topo, next, shapes, changed, recut);
    if (HasFatalFailure()) return;
    topo = std::move(next);
  }
}

TEST(TileMath, ParseAndBounds) {
  EXPECT_TRUE(parse_tile("0", "0", "0"));
  EXPECT_FALSE(parse_tile("3", "8", "0"));
  EXPECT_FALSE(parse_tile("25", "0", "0"));
  EXPECT_FALSE(parse_tile("a", "0", "0"));
  EXPECT_FALSE(parse_tile("1", "-1", "0"));
  EXPECT_FALSE(parse_tile("1", "99999999999999", "0"));
  Box b = bounds({1, 0, 0});
  EXPECT_DOUBLE_EQ(b.minx, -kHalfWorld);
  EXPECT_DOUBLE_EQ(b.maxy, kHalfWorld);
  EXPECT_DOUBLE_EQ(b.maxx, 0);
  auto m = to_mercator(120, 30);
  auto ll = to_lonlat(m);
  EXPECT_NEAR(ll.lon, 120, 1e-9);
  EXPECT_NEAR(ll.lat, 30, 1e-9);
}

TEST(Mvt, PolygonCommandsFollowTheSpec) {
  // The whole tile as one square, given counter-clockwise in mercator (y up).
  TileTransform tf{{0, 0, 4096, 4096}, 4096};
  LayerEncoder layer("grid", 4096, 0);
  Polygon sq{{{0, 0}, {4096, 0}, {4096, 4096}, {0, 4096}, {0, 0}}};
  ASSERT_TRUE(layer.add_polygon(7, {sq}, tf, {{"code", std::string_view("330521001001001")}, {"workers", std::int64_t{2}}}));
  std::string tile;
  layer.write_to(tile);

  protozero::pbf_reader t(tile);
  ASSERT_TRUE(t.next(3));
  protozero::pbf_reader l = t.get_message();
  std::vector<std::uint32_t> geometry;
  std::vector<std::string> keys;
  std::uint32_t version = 0, extent = 0;
  while (l.next()) {
    switch (l.tag()) {
      case 15:
        version = l.get_uint32();
        break;
      case 3:
        keys.push_back(l.get_string());
        break;
      case 5:
        extent = l.get_uint32();
        break;
      case 2: {
        protozero::pbf_reader f = l.get_message();
        while (f.next()) {
          if (f.tag() == 4) {
            auto r = f.get_packed_uint32();
            geometry.assign(r.begin(), r.end());
          } else {
            f.skip();
          }
        }
        break;
      }
      default:
        l.skip();
    }
  }
  EXPECT_EQ(version, 2u);
  EXPECT_EQ(extent, 4096u);
  EXPECT_EQ(keys, (std::vector<std::string>{"code", "workers"}));
  // MoveTo(1), LineTo(3), ClosePath(1): 9 + 3*2 ... = 1+2+1+6+1 integers
  ASSERT_EQ(geometry.size(), 11u);
  EXPECT_EQ(geometry[0], 9u);    // MoveTo, count 1
  EXPECT_EQ(geometry[3], 26u);   // LineTo, count 3
  EXPECT_EQ(geometry[10], 15u);  // ClosePath
  // Decode and check the surveyor's area is positive (exterior ring, spec 4.3.4.4).
  std::vector<std::pair<long, long>> pts;
  long x = 0, y = 0;
  auto unzig = [](std::uint32_t v) { return static_cast<long>(static_cast<std::int32_t>((v >> 1) ^ (~(v & 1) + 1))); };
  x += unzig(geometry[1]);
  y += unzig(geometry[2]);
  pts.push_back({x, y});
  for (int i = 0; i < 3; ++i) {
    x += unzig(geometry[4 + 2 * i]);
    y += unzig(geometry[5 + 2 * i]);
    pts.push_back({x, y});
  }
  long area = 0;
  for (std::size_t i = 0; i < pts.size(); ++i) {
    auto [x1, y1] = pts[i];
    auto [x2, y2] = pts[(i + 1) % pts.size()];
    area += x1 * y2 - x2 * y1;
  }
  EXPECT_GT(area, 0);
}

TEST(Mvt, ClipKeepsInsideAndCutsOutside) {
  auto r = clip_ring({{-10, -10}, {20, -10}, {20, 20}, {-10, 20}, {-10, -10}}, 0, 10);
  ASSERT_EQ(r.size(), 4u);
  for (auto [x, y] : r) {
    EXPECT_GE(x, 0);
    EXPECT_LE(x, 10);
    EXPECT_GE(y, 0);
    EXPECT_LE(y, 10);
  }
}

TEST(Topology, FlatRenderDrawsTheSameRingsAsRender) {
  Ring outer{{0, 0}, {10, 0}, {10, 10}, {0, 10}, {0, 0}};
  Ring hole{{3, 3}, {3, 7}, {7, 7}, {7, 3}, {3, 3}};
  Ring inner{{3, 3}, {7, 3}, {7, 7}, {3, 7}, {3, 3}};
  Ring far{{20, 20}, {20.5, 20}, {20.5, 20.5}, {20, 20.5}, {20, 20}};  // collapses first
  std::vector<MultiPolygon> layer{MultiPolygon{Polygon{left_square()}}, MultiPolygon{Polygon{right_square()}},
                                  MultiPolygon{Polygon{outer, hole}, Polygon{far}}, MultiPolygon{Polygon{inner}}};
  auto topo = Topology::build(layer);
  FlatRings flat;
  flat.points.push_back({99, 99});  // left over from an earlier feature: must be cleared
  for (std::size_t f = 0; f < topo.size(); ++f)
    for (double tol : {0.0, 0.6, 1.0, 2.5, 10.0, 50.0, 1000.0}) {
      const MultiPolygon expected = topo.render(f, tol);
      topo.render(f, tol, flat);
      MultiPolygon got;
      std::uint32_t begin = 0;
      for (const auto& ring : flat.rings) {
        if (ring.exterior) got.emplace_back();
        ASSERT_FALSE(got.empty()) << "a hole before any exterior";
        got.back().emplace_back(flat.points.begin() + begin, flat.points.begin() + ring.end);
        begin = ring.end;
      }
      EXPECT_EQ(begin, flat.points.size());
      EXPECT_EQ(got, expected) << "feature " << f << " tolerance " << tol;
    }
}

TEST(Mvt, ContentHashIsStableAndSeesEveryByte) {
  // Fixed values: ETags must not change between processes, runs or builds (a change of the hash
  // is a deliberate one, made here too).
  EXPECT_EQ(content_hash("0123456789abcdefghijklmnopqrstuvwxyz0123456789"), 0x66275d3693aa3c11ULL);
  EXPECT_EQ(content_hash(""), 0xd12b4b0f4e354d96ULL);
  std::string data(1000, 'a');
  const auto h = content_hash(data);
  std::set<std::uint64_t> seen{h};
  for (std::size_t i = 0; i < data.size(); i += 37) {
    std::string changed = data;
    changed[i] = 'b';
    EXPECT_TRUE(seen.insert(content_hash(changed)).second) << "byte " << i;
  }
  for (std::size_t n = 0; n < 70; ++n) EXPECT_TRUE(seen.insert(content_hash(std::string_view(data).substr(0, n))).second) << n;
}

TEST(Mvt, ValueTableKeepsEachStringOnceThroughGrowth) {
  // Enough distinct strings to grow the table several times, each used by two features.
  TileTransform tf{{0, 0, 4096, 4096}, 4096};
  LayerEncoder layer("grid", 4096, 0);
  std::vector<std::string> names;
  for (int i = 0; i < 3000; ++i) names.push_back("name-" + std::to_string(i));
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < 3000; ++i)
      ASSERT_TRUE(layer.add_point(static_cast<std::uint64_t>(i), {10.0 + i % 100, 10.0 + i / 100}, tf,
                                  {{"name", std::string_view(names[static_cast<std::size_t>(i)])}, {"level", std::string_view("grid")}}));
  std::string tile;
  layer.write_to(tile);
  protozero::pbf_reader t(tile);
  ASSERT_TRUE(t.next(3));
  protozero::pbf_reader l = t.get_message();
  std::vector<std::string> values;
  std::vector<std::vector<std::uint32_t>> tags;
  while (l.next()) {
    if (l.tag() == 4) {
      protozero::pbf_reader v = l.get_message();
      while (v.next()) {
        if (v.tag() == 1)
          values.push_back(v.get_string());
        else
          v.skip();
      }
    } else if (l.tag() == 2) {
      protozero::pbf_reader f = l.get_message();
      while (f.next()) {
        if (f.tag() == 2) {
          auto r = f.get_packed_uint32();
          tags.emplace_back(r.begin(), r.end());
        } else {
          f.skip();
        }
      }
    } else {
      l.skip();
    }
  }
  ASSERT_EQ(values.size(), 3001u);
  EXPECT_EQ(std::set<std::string>(values.begin(), values.end()).size(), 3001u);
  ASSERT_EQ(tags.size(), 6000u);
  for (std::size_t k = 0; k < tags.size(); ++k) {
    ASSERT_EQ(tags[k].size(), 4u);
    EXPECT_EQ(values[tags[k][1]], names[k % 3000]);
    EXPECT_EQ(values[tags[k][3]], "grid");
  }
  // A reset layer starts an empty table: the same strings come back as new values.
  layer.reset("grid", 4096, 0);
  EXPECT_TRUE(layer.empty());
  ASSERT_TRUE(layer.add_point(1, {10, 10}, tf, {{"name", std::string_view(names[5])}}));
  tile.clear();
  layer.write_to(tile);
  EXPECT_NE(tile.find("name-5"), std::string::npos);
  EXPECT_EQ(tile.find("name-6"), std::string::npos);
}
