// Snapshot swaps under concurrent reads: readers never block and never see a torn snapshot.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "locate/service.hpp"

using namespace wangge::locate;

namespace {

// Version v: one grid "g<v>" covering the whole square, so every answer names its version.
std::shared_ptr<const LocateIndex> version(int v) {
  auto a = std::make_shared<SourceArea>();
  a->code = "33052100100100" + std::to_string(v % 10);
  a->name = "version " + std::to_string(v);
  a->level = Level::grid;
  a->vertices = {{120, 30}, {120.01, 30}, {120.01, 30.01}, {120, 30.01}, {120, 30}};
  a->ring_ends = {5};
  auto county = std::make_shared<SourceArea>();
  county->code = "330521";
  county->name = "county";
  county->level = Level::county;
  county->vertices = a->vertices;
  county->ring_ends = {5};
  return LocateIndex::build({a, county}, Options{});
}

}  // namespace

TEST(Locator, SwapsUnderConcurrentReadsAreNeverTorn) {
  Locator locator(Options{});
  std::vector<std::shared_ptr<const LocateIndex>> versions;
  for (int v = 0; v < 10; ++v) versions.push_back(version(v));
  locator.install(versions[0], std::make_shared<WorkerDirectory>());
  std::atomic<bool> stop{false};
  std::atomic<long long> reads{0}, torn{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop) {
        auto view = locator.current();
        const Location l = view.index->locate({120.005, 30.005});
        // The answer and the names come from the same snapshot, whatever the writer does meanwhile.
        const auto& g = view.index->area(l.grid);
        if (g.name != "version " + std::to_string(g.code.back() - '0')) ++torn;
        ++reads;
      }
    });
  }
  long long swaps = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  while (std::chrono::steady_clock::now() < until || reads.load() < 10000)
    locator.install(versions[static_cast<std::size_t>(++swaps % 10)]);
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(locator.generation(), swaps + 1);
  EXPECT_GT(swaps, 1000);
}

TEST(Locator, RebuildAppliesChangesOnTopOfTheKeptAreas) {
  auto v0 = version(0);
  auto moved = std::make_shared<SourceArea>(*v0->sources()[1]);
  ASSERT_EQ(moved->level, Level::grid);
  moved->name = "moved";
  for (auto& p : moved->vertices) p.x += 0.02;
  auto next = LocateIndex::build(apply_changes(v0->sources(), {moved->code}, {moved}), Options{});
  EXPECT_EQ(next->stats().areas, 2u);
  const Location here = next->locate({120.005, 30.005});
  EXPECT_EQ(here.method, Method::fallback);  // the grid moved away; the county remains
  const Location there = next->locate({120.025, 30.005});
  EXPECT_EQ(there.method, Method::inside);  // a grid answers for itself, even outside the admin areas
  // Retiring: the code is listed as changed but no row comes back.
  auto retired = LocateIndex::build(apply_changes(v0->sources(), {"330521"}, {}), Options{});
  EXPECT_EQ(retired->stats().areas, 1u);
}
