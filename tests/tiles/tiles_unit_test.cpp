#include <gtest/gtest.h>

#include <protozero/pbf_reader.hpp>
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
  EXPECT_TRUE(topo.render(0, 1000).empty());  // smaller than the tolerance: left out at that zoom
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
  EXPECT_NEAR(ll.x, 120, 1e-9);
  EXPECT_NEAR(ll.y, 30, 1e-9);
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
      case 15: version = l.get_uint32(); break;
      case 3: keys.push_back(l.get_string()); break;
      case 5: extent = l.get_uint32(); break;
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
      default: l.skip();
    }
  }
  EXPECT_EQ(version, 2u);
  EXPECT_EQ(extent, 4096u);
  EXPECT_EQ(keys, (std::vector<std::string>{"code", "workers"}));
  // MoveTo(1), LineTo(3), ClosePath(1): 9 + 3*2 ... = 1+2+1+6+1 integers
  ASSERT_EQ(geometry.size(), 11u);
  EXPECT_EQ(geometry[0], 9u);   // MoveTo, count 1
  EXPECT_EQ(geometry[3], 26u);  // LineTo, count 3
  EXPECT_EQ(geometry[10], 15u); // ClosePath
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
        if (v.tag() == 1) values.push_back(v.get_string());
        else v.skip();
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
