// Patched snapshots (LocateIndex::patch) against full builds of the same areas: after every step of
// a random sequence of edits (shared borders moved, grids retired and added in the gaps, admin
// areas renamed, grids split in two), chained patch on patch as the server does, every probe point
// gets byte for byte the same answer object (grid, micro-grid, hierarchy names, method, distance)
// from the patched snapshot as from a full build. Probes: random points, every vertex, edge
// midpoints, and points in and around the gaps (nearest and fallback answers). Then the Locator
// replaces a patched snapshot with a full build in the background.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "locate/service.hpp"
#include "test_areas.hpp"

using namespace wangge::locate;

namespace {

// A county with a township (west half) and a village (south-west quarter); an n x n lattice of
// jittered quads, each present quad a grid of the village with two micro-grids cut along a
// diagonal. Editing moves lattice points, removes and adds quads, renames, splits.
struct World {
  int n = 10;
  double d = 0.01;
  std::vector<Pt> lattice;
  std::map<int, std::string> quads;  // quad index -> grid code (two codes when split: see split)
  std::map<int, bool> split;         // a split quad is two grids (halves), no micro-grids
  std::string township_name = "township";
  std::string village_name = "village";

  Pt at(int i, int j) const { return lattice[static_cast<std::size_t>(j * (n + 1) + i)]; }

  Sources sources() const {
    Sources s;
    const double e = n * d;
    s.push_back(test::area("330521", Level::county, "",
                           {{{119.99, 29.99}, {120 + e + 0.01, 29.99}, {120 + e + 0.01, 30 + e + 0.01}, {119.99, 30 + e + 0.01}}},
                           "county"));
    s.push_back(test::area("330521001", Level::township, "330521", {{{120, 30}, {120 + e / 2, 30}, {120 + e / 2, 30 + e}, {120, 30 + e}}},
                           township_name));
    s.push_back(test::area("330521001001", Level::village, "330521001",
                           {{{120, 30}, {120 + e / 4, 30}, {120 + e / 4, 30 + e / 4}, {120, 30 + e / 4}}}, village_name));
    for (const auto& [k, code] : quads) {
      const int i = k % n, j = k / n;
      const Pt a = at(i, j), b = at(i + 1, j), c = at(i + 1, j + 1), f = at(i, j + 1);
      if (split.count(k)) {
        s.push_back(test::area(code, Level::grid, "330521001001", {{a, b, c}}, code));
        s.push_back(test::area(code + "9", Level::grid, "330521001001", {{a, c, f}}, code + "b"));
        continue;
      }
      s.push_back(test::area(code, Level::grid, "330521001001", {{a, b, c, f}}, "grid " + code));
      s.push_back(test::area(code + "01", Level::microgrid, code, {{a, b, c}}, code + "-1"));
      s.push_back(test::area(code + "02", Level::microgrid, code, {{a, c, f}}, code + "-2"));
    }
    return s;
  }
};

std::string answer(const LocateIndex& index, Pt p) {
  std::string out;
  index.append_json(index.locate(p), p, nullptr, out);
  return out;
}

// The codes whose area differs between two source lists (changed, added or gone).
std::vector<std::string> diff(const Sources& a, const Sources& b) {
  std::map<std::string, const SourceArea*> before, after;
  for (const auto& s : a) before[s->code] = s.get();
  for (const auto& s : b) after[s->code] = s.get();
  std::vector<std::string> codes;
  for (const auto& [code, s] : before) {
    auto it = after.find(code);
    if (it == after.end() || it->second->vertices != s->vertices || it->second->name != s->name || it->second->parent != s->parent)
      codes.push_back(code);
  }
  for (const auto& [code, s] : after)
    if (!before.count(code)) codes.push_back(code);
  std::sort(codes.begin(), codes.end());
  return codes;
}

Sources sorted(Sources s) {
  std::sort(s.begin(), s.end(), [](const auto& x, const auto& y) { return x->code < y->code; });
  return s;
}

}  // namespace

TEST(LocatePatch, PatchedSnapshotsAnswerLikeFullBuilds) {
  std::mt19937_64 rng(20261129);
  World w;
  std::uniform_real_distribution<double> jitter(-0.3, 0.3);
  w.lattice.resize(static_cast<std::size_t>((w.n + 1) * (w.n + 1)));
  for (int j = 0; j <= w.n; ++j)
    for (int i = 0; i <= w.n; ++i) {
      const bool edge = i == 0 || j == 0 || i == w.n || j == w.n;
      w.lattice[static_cast<std::size_t>(j * (w.n + 1) + i)] = {120 + (i + (edge ? 0 : jitter(rng))) * w.d,
                                                                30 + (j + (edge ? 0 : jitter(rng))) * w.d};
    }
  for (int k = 0; k < w.n * w.n; ++k) {
    if (k % 7 == 3) continue;  // gaps
    char code[32];
    std::snprintf(code, sizeof code, "330521001001%03d", k);
    w.quads[k] = code;
  }
  Options options;
  options.nearest_m = 150;  // reaches across the gaps, so nearest answers are exercised
  Sources current = sorted(w.sources());
  std::shared_ptr<const LocateIndex> index = LocateIndex::build(current, options);
  std::size_t compared = 0, patched_steps = 0;
  std::map<std::string, std::size_t> methods;
  for (int step = 0; step < 40; ++step) {
    // One edit.
    std::uniform_int_distribution<int> pick(0, 4);
    const int kind = pick(rng);
    if (kind == 0) {  // move an interior lattice point: up to four grids (and micro-grids) redrawn
      std::uniform_int_distribution<int> ij(1, w.n - 1);
      const int i = ij(rng), j = ij(rng);
      w.lattice[static_cast<std::size_t>(j * (w.n + 1) + i)] = {120 + (i + jitter(rng)) * w.d, 30 + (j + jitter(rng)) * w.d};
    } else if (kind == 1 && w.quads.size() > 10) {  // retire a grid: a new gap
      auto it = w.quads.begin();
      std::advance(it, std::uniform_int_distribution<std::size_t>(0, w.quads.size() - 1)(rng));
      w.split.erase(it->first);
      w.quads.erase(it);
    } else if (kind == 2) {  // a new grid in a gap
      for (int k = std::uniform_int_distribution<int>(0, w.n * w.n - 1)(rng), t = 0; t < w.n * w.n; ++t, k = (k + 1) % (w.n * w.n)) {
        if (w.quads.count(k)) continue;
        char code[32];
        std::snprintf(code, sizeof code, "330521001001%03d", k);
        w.quads[k] = code;
        break;
      }
    } else if (kind == 3) {  // rename the village or the township: hierarchy text of unchanged grids
      (step % 2 ? w.village_name : w.township_name) += "'";
    } else {  // split a grid in two along its diagonal (its micro-grids retire)
      auto it = w.quads.begin();
      std::advance(it, std::uniform_int_distribution<std::size_t>(0, w.quads.size() - 1)(rng));
      w.split[it->first] = true;
    }
    Sources next_sources = sorted(w.sources());
    const std::vector<std::string> codes = diff(current, next_sources);
    if (codes.empty()) continue;
    // What the server does: the changed rows only, applied to the kept list, then the patch.
    Sources changed;
    for (const auto& s : next_sources)
      if (std::binary_search(codes.begin(), codes.end(), s->code)) changed.push_back(s);
    Sources applied = apply_changes(index->sources(), codes, changed);
    ASSERT_EQ(applied.size(), next_sources.size());
    for (std::size_t k = 0; k < applied.size(); ++k) ASSERT_EQ(applied[k]->code, next_sources[k]->code);
    auto patched = LocateIndex::patch(index, codes, applied);
    ASSERT_TRUE(patched);
    ASSERT_TRUE(patched->patched());
    auto full = LocateIndex::build(next_sources, options);
    ++patched_steps;

    // Probes.
    std::vector<Pt> probes;
    std::uniform_real_distribution<double> ux(119.985, 120 + w.n * w.d + 0.015), uy(29.985, 30 + w.n * w.d + 0.015);
    for (int k = 0; k < 3000; ++k) probes.push_back({ux(rng), uy(rng)});
    for (const auto& s : next_sources) {
      for (std::size_t v = 0; v + 1 < s->vertices.size(); ++v) {
        probes.push_back(s->vertices[v]);
        probes.push_back({(s->vertices[v].x + s->vertices[v + 1].x) / 2, (s->vertices[v].y + s->vertices[v + 1].y) / 2});
      }
    }
    // The batch path of a patched snapshot answers like its single calls.
    std::vector<Location> batch(probes.size());
    patched->locate_many(probes.data(), probes.size(), batch.data());
    for (std::size_t k = 0; k < probes.size(); ++k) {
      std::string a, b;
      patched->append_json(batch[k], probes[k], nullptr, a);
      patched->append_json(patched->locate(probes[k]), probes[k], nullptr, b);
      ASSERT_EQ(a, b) << "batch, step " << step;
    }
    for (const Pt& p : probes) {
      const std::string a = answer(*patched, p), b = answer(*full, p);
      ASSERT_EQ(a, b) << "step " << step << " edit " << kind << " at " << p.x << "," << p.y;
      ++methods[method_name(full->locate(p).method)];
      ++compared;
    }
    index = patched;
    current = next_sources;
  }
  EXPECT_GT(patched_steps, 25u);
  // Every kind of answer was compared.
  for (const char* m : {"inside", "boundary", "nearest", "fallback", "outside"}) EXPECT_GT(methods[m], 0u) << m;
  std::printf("[ locate patch ] %zu patched steps, %zu probes compared, last patch covers %zu codes\n", patched_steps, compared,
              index->patched_codes());
}

TEST(LocatePatch, LocatorReplacesPatchedSnapshotsByFullBuildsWhenEditsPause) {
  World w;
  w.lattice.resize(static_cast<std::size_t>((w.n + 1) * (w.n + 1)));
  for (int j = 0; j <= w.n; ++j)
    for (int i = 0; i <= w.n; ++i) w.lattice[static_cast<std::size_t>(j * (w.n + 1) + i)] = {120 + i * w.d, 30 + j * w.d};
  for (int k = 0; k < w.n * w.n; ++k) {
    char code[32];
    std::snprintf(code, sizeof code, "330521001001%03d", k);
    w.quads[k] = code;
  }
  Locator locator(Options{});
  locator.consolidate_after_ms = 50;
  Sources before = sorted(w.sources());
  locator.install(LocateIndex::build(before, Options{}), std::make_shared<WorkerDirectory>());
  w.lattice[static_cast<std::size_t>(5 * (w.n + 1) + 5)].x += 0.002;
  Sources after = sorted(w.sources());
  const auto codes = diff(before, after);
  ASSERT_FALSE(codes.empty());
  auto patched = LocateIndex::patch(locator.current().index, codes, after);
  ASSERT_TRUE(patched && patched->patched());
  const Pt probe{120.0505, 30.0505};
  const std::string expected = answer(*LocateIndex::build(after, Options{}), probe);
  locator.install(patched);
  EXPECT_EQ(answer(*locator.current().index, probe), expected);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (locator.current().index->patched() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(locator.current().index->patched());
  EXPECT_EQ(answer(*locator.current().index, probe), expected);
}
