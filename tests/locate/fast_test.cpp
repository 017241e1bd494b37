// The fast grid against the general index: the same answer for every point, on a mosaic of grids
// and micro-grids with shared edges and vertices, holes, islands, gaps and an admin area around
// them, probed at random, on vertices, on edges and exactly on the fast grid's cell borders.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "locate/index.hpp"
#include "test_areas.hpp"

using namespace wangge::locate;

namespace {

using test::area;

// n x n jittered quads over [120, 120 + n*d] x [30, 30 + n*d]; each quad is a grid split into two
// micro-grids along its diagonal; every 7th quad is left out (a gap), every 5th has a hole, and
// one grid owns an island far from it. Shared vertices are the same doubles in every polygon.
struct Mosaic {
  Sources sources;
  std::vector<Pt> vertices;  // every vertex, for probing
};

Mosaic mosaic(int n, double d, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> jitter(-0.3, 0.3);
  std::vector<Pt> lattice((n + 1) * (n + 1));
  for (int j = 0; j <= n; ++j)
    for (int i = 0; i <= n; ++i) {
      const bool edge = i == 0 || j == 0 || i == n || j == n;
      lattice[j * (n + 1) + i] = {120 + (i + (edge ? 0 : jitter(rng))) * d, 30 + (j + (edge ? 0 : jitter(rng))) * d};
    }
  Mosaic m;
  m.vertices = lattice;
  auto county =
      area("330521", Level::county, "",
           {{{119.99, 29.99}, {120 + n * d + 0.01, 29.99}, {120 + n * d + 0.01, 30 + n * d + 0.01}, {119.99, 30 + n * d + 0.01}}});
  m.sources.push_back(county);
  m.sources.push_back(
      area("330521001", Level::township, "330521", {{{120, 30}, {120 + n * d / 2, 30}, {120 + n * d / 2, 30 + n * d}, {120, 30 + n * d}}}));
  m.sources.push_back(area("330521001001", Level::village, "330521001",
                           {{{120, 30}, {120 + n * d / 4, 30}, {120 + n * d / 4, 30 + n * d / 4}, {120, 30 + n * d / 4}}}));
  int k = 0;
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < n; ++i, ++k) {
      if (k % 7 == 3) continue;
      const Pt a = lattice[j * (n + 1) + i], b = lattice[j * (n + 1) + i + 1], c = lattice[(j + 1) * (n + 1) + i + 1],
               e = lattice[(j + 1) * (n + 1) + i];
      char code[32];
      std::snprintf(code, sizeof code, "330521001001%03d", k);
      std::vector<std::vector<Pt>> rings = {{a, b, c, e}};
      if (k % 5 == 1) {  // a hole around the quad's centre
        const Pt m0{(a.x + c.x) / 2, (a.y + c.y) / 2};
        const double r = d * 0.1;
        rings.push_back({{m0.x - r, m0.y - r}, {m0.x + r, m0.y - r}, {m0.x + r, m0.y + r}, {m0.x - r, m0.y + r}});
        m.vertices.push_back(rings.back()[0]);
        m.vertices.push_back(rings.back()[2]);
      }
      if (k == 10) {  // an island outside the mosaic
        rings.push_back({{120 + n * d + 0.002, 30}, {120 + n * d + 0.004, 30}, {120 + n * d + 0.004, 30.002}});
      }
      m.sources.push_back(area(code, Level::grid, "330521001001", rings));
      // Micro-grids: the two triangles of the quad (holes ignored: the micro-grids then cover the
      // hole, which only their grid's answer decides).
      m.sources.push_back(area(std::string(code) + "01", Level::microgrid, code, {{a, b, c}}));
      m.sources.push_back(area(std::string(code) + "02", Level::microgrid, code, {{a, c, e}}));
    }
  }
  return m;
}

std::size_t by_method[5];
std::vector<Pt> probed;  // every point expect_same saw, for the batch check

bool same(const Location& f, const Location& g) {
  return f.method == g.method && f.grid == g.grid && f.microgrid == g.microgrid && f.admin == g.admin && f.distance_m == g.distance_m;
}

void expect_same(const LocateIndex& idx, Pt p, std::size_t& checked, std::size_t& differ) {
  const Location f = idx.locate(p), g = idx.locate_general(p);
  ++checked;
  ++by_method[static_cast<int>(f.method)];
  probed.push_back(p);
  if (!same(f, g)) {
    if (++differ < 10)
      ADD_FAILURE() << "point " << p.x << " " << p.y << ": fast " << method_name(f.method) << " " << f.grid << "/" << f.microgrid
                    << " general " << method_name(g.method) << " " << g.grid << "/" << g.microgrid;
  }
}

// locate_many on every probed point (in probe order and shuffled, so neighbours in the pipeline
// differ) gives what locate gives.
void expect_batch_same(const LocateIndex& idx, unsigned seed) {
  std::vector<Pt> pts = probed;
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) std::shuffle(pts.begin(), pts.end(), std::mt19937_64(seed));
    std::vector<Location> out(pts.size());
    idx.locate_many(pts.data(), pts.size(), out.data());
    std::size_t differ = 0;
    for (std::size_t i = 0; i < pts.size(); ++i)
      if (!same(out[i], idx.locate(pts[i])) && ++differ < 10) ADD_FAILURE() << "batch answer differs at " << pts[i].x << " " << pts[i].y;
    EXPECT_EQ(differ, 0u);
  }
  // Short batches: shorter than the pipeline, and empty.
  for (std::size_t n : {0u, 1u, 2u, 5u, 13u, 17u}) {
    std::vector<Location> out(n + 1);
    out[n].grid = -7;  // must stay untouched
    idx.locate_many(pts.data(), n, out.data());
    for (std::size_t i = 0; i < n; ++i) EXPECT_TRUE(same(out[i], idx.locate(pts[i]))) << "batch of " << n;
    EXPECT_EQ(out[n].grid, -7);
  }
}

}  // namespace

TEST(FastGrid, SameAnswersAsTheGeneralIndex) {
  for (unsigned leaf_edges : {4u, 24u, 200u}) {
    const Mosaic m = mosaic(24, 0.002, 7 + leaf_edges);
    Options o;
    o.fast_params.leaf_edges = leaf_edges;
    o.fast_params.top_cells_per_polygon = leaf_edges == 4 ? 4.0 : 0.5;
    auto idx = LocateIndex::build(m.sources, o);
    const auto& st = idx->stats();
    ASSERT_FALSE(st.fast_layout.empty());
    std::mt19937_64 rng(99);
    std::uniform_real_distribution<double> ux(119.985, 120.07), uy(29.985, 30.065);
    std::size_t checked = 0, differ = 0;
    std::fill(std::begin(by_method), std::end(by_method), 0);
    probed.clear();
    for (int i = 0; i < 200000; ++i) expect_same(*idx, {ux(rng), uy(rng)}, checked, differ);
    // Vertices (boundary points of several polygons) and points on edges; most of them lie in
    // leaf cells, where the leaf's own copies of the vertices decide.
    std::size_t in_leaves = 0, boundary_in_leaves = 0;
    auto on_boundary = [&](Pt p) {
      expect_same(*idx, p, checked, differ);
      if (FastIndex::tag(idx->fast().find(p)) == FastIndex::kLeaf) {
        ++in_leaves;
        boundary_in_leaves += idx->locate(p).method == Method::boundary;
      }
    };
    for (const auto& s : m.sources) {
      for (std::size_t v = 0; v + 1 < s->vertices.size(); ++v) {
        const Pt a = s->vertices[v], b = s->vertices[v + 1];
        on_boundary(a);
        on_boundary({(a.x + b.x) / 2, (a.y + b.y) / 2});
        on_boundary({a.x + (b.x - a.x) * 0.25, a.y + (b.y - a.y) * 0.25});
      }
    }
    EXPECT_GT(in_leaves, 1000u) << "leaf edges " << leaf_edges;
    EXPECT_GT(boundary_in_leaves, 1000u) << "leaf edges " << leaf_edges;
    // Points exactly on cell borders of every level: multiples of 2^-16 degree.
    for (int i = 0; i < 100000; ++i) {
      const double x = std::ldexp(std::floor(ux(rng) * 65536), -16), y = std::ldexp(std::floor(uy(rng) * 65536), -16);
      expect_same(*idx, {x, y}, checked, differ);
      expect_same(*idx, {x, uy(rng)}, checked, differ);
      expect_same(*idx, {ux(rng), y}, checked, differ);
    }
    EXPECT_EQ(differ, 0u) << "leaf edges " << leaf_edges << ", layout " << st.fast_layout;
    // The probes reach every kind of answer.
    for (int k = 0; k < 5; ++k) EXPECT_GT(by_method[k], 0u) << "method " << k << " leaf edges " << leaf_edges;
    expect_batch_same(*idx, leaf_edges);
  }
}

// A grid whose boundary is a fine zigzag (2,000 vertices in a few cells of the finest level) leaves
// cells with more vertices than a leaf record takes: they are answered by the general index, and
// every answer is still the same.
TEST(FastGrid, DenseBoundariesFallBackToTheGeneralIndex) {
  Sources sources;
  sources.push_back(area("330521", Level::county, "", {{{120, 30}, {120.1, 30}, {120.1, 30.1}, {120, 30.1}}}));
  std::vector<Pt> ring;
  const int n = 2000;
  for (int k = 0; k < n; ++k) {
    const double t = 2 * 3.141592653589793 * k / n, r = (k % 2 ? 0.0008 : 0.001);
    ring.push_back({120.05 + r * std::cos(t), 30.05 + r * std::sin(t)});
  }
  sources.push_back(area("330521001001001", Level::grid, "330521", {ring}));
  sources.push_back(area("330521001001002", Level::grid, "330521", {{{120.01, 30.01}, {120.02, 30.01}, {120.02, 30.02}, {120.01, 30.02}}}));
  auto idx = LocateIndex::build(sources, Options{});
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> ux(120.048, 120.052), uy(30.048, 30.052), jitter(-1e-9, 1e-9);
  std::size_t checked = 0, differ = 0, slow = 0;
  probed.clear();
  std::fill(std::begin(by_method), std::end(by_method), 0);
  for (int i = 0; i < 50000; ++i) {
    expect_same(*idx, {ux(rng), uy(rng)}, checked, differ);
  }
  for (std::size_t k = 0; k < ring.size(); ++k) {
    const Pt a = ring[k], b = ring[(k + 1) % ring.size()];
    slow += FastIndex::tag(idx->fast().find(a)) == FastIndex::kSlow;  // edges touch the cell: not a gap
    expect_same(*idx, a, checked, differ);
    expect_same(*idx, {(a.x + b.x) / 2, (a.y + b.y) / 2}, checked, differ);
    expect_same(*idx, {a.x + jitter(rng), a.y + jitter(rng)}, checked, differ);
  }
  EXPECT_EQ(differ, 0u) << idx->stats().fast_layout;
  EXPECT_GT(slow, 0u) << idx->stats().fast_layout;
  EXPECT_GT(by_method[static_cast<int>(Method::inside)], 0u);
  EXPECT_GT(by_method[static_cast<int>(Method::boundary)], 0u);
  expect_batch_same(*idx, 3);
}

TEST(FastGrid, MostPointsAreAnsweredByTheFastGrid) {
  const Mosaic m = mosaic(24, 0.002, 3);
  auto idx = LocateIndex::build(m.sources, Options{});
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> ux(120, 120.048), uy(30, 30.048);
  std::size_t direct = 0, leaf = 0, slow = 0;
  for (int i = 0; i < 100000; ++i) {
    const auto code = idx->fast().find({ux(rng), uy(rng)});
    const auto tag = FastIndex::tag(code);
    direct += tag == FastIndex::kDirect;
    leaf += tag == FastIndex::kLeaf;
    slow += tag == FastIndex::kSlow;
  }
  // Inside the mosaic only the gaps (1 quad in 7) and the ground within 50 m of them go the slow way.
  const std::string why =
      idx->stats().fast_layout + " direct " + std::to_string(direct) + " leaf " + std::to_string(leaf) + " slow " + std::to_string(slow);
  EXPECT_GT(direct, 5000u) << why;
  EXPECT_GT(leaf, 10000u) << why;
  EXPECT_LT(slow, 25000u) << why;
}
