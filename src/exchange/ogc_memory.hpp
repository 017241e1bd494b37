// OGC items pages of the current areas answered from the process's area cache (registry/snapshot.hpp)
// instead of PostgreSQL: the same features in the same order, the same numberMatched and the same
// text as ogc::items() writes. Only what memory can answer exactly comes here (the routes decide:
// current versions, no bbox, CRS84/EPSG:4326/EPSG:4490, filters MemoryFilter evaluates); the
// workers of a page's areas are still counted by the database, in one small statement per page,
// since assignments are not in the cache.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/snapshot.hpp"
#include "exchange/cql2_memory.hpp"
#include "exchange/ogc.hpp"
#include "registry/snapshot.hpp"

namespace wangge::exchange::ogc {

// The current areas of one snapshot by level, each level sorted by code (byte order, as the
// database's C collation orders them): a code prefix is a range found by binary search.
struct MemoryIndex {
  using Level = std::vector<const registry::AreaEntry*>;  // entries owned by `snapshot`
  std::shared_ptr<const registry::AreaSnapshot> snapshot;
  std::unordered_map<std::string, std::shared_ptr<const Level>> levels;
};

struct MemoryQuery {
  std::string level;
  std::optional<std::string> scope;            // the token's scope (a code): its subtree only
  const cql2::MemoryFilter* filter = nullptr;  // none: every area of the level
  // Sort keys before the code: index in queryables(LayerKind::areas), descending or not.
  std::vector<std::pair<std::size_t, bool>> sort;
  long long limit = 100;
  long long offset = 0;
};

struct MemorySelection {
  std::shared_ptr<const MemoryIndex> index;  // keeps the rows' entries alive
  std::vector<const registry::AreaEntry*> rows;
  long long matched = 0;
};

class MemoryPages {
 public:
  explicit MemoryPages(registry::AreaCache& cache) : m_cache(cache) {}

  // The page's rows, or std::nullopt when memory cannot answer now: the cache is not loaded, a
  // committed change may be missing from it (a failed refresh), or another request is building the
  // index of a new snapshot.
  std::optional<MemorySelection> select(const MemoryQuery& q);

  // The index of the cache's current snapshot (built or patched when the snapshot changed), or
  // null while another request builds it. Public for the tests.
  std::shared_ptr<const MemoryIndex> index();

 private:
  registry::AreaCache& m_cache;
  Snapshot<MemoryIndex> m_index;
  std::mutex m_build;  // one build at a time; requests meanwhile read the database
};

// Builds the index of `snapshot`: patched from `previous` when only a few shards changed, else whole.
std::shared_ptr<const MemoryIndex> build_memory_index(std::shared_ptr<const registry::AreaSnapshot> snapshot,
                                                      const std::shared_ptr<const MemoryIndex>& previous);

// The page as ogc::items() writes it; `conn` counts the rows' workers (unused for no rows).
Page write_memory_page(pg::Connection& conn, const MemorySelection& selection, bool lat_first);

// A GeoJSON geometry's text with each position's first two ordinates swapped, as
// ST_FlipCoordinates before ST_AsGeoJSON writes it (every ordinate is printed on its own).
void append_flipped(std::string& out, std::string_view geojson);

}  // namespace wangge::exchange::ogc
